"""Market data from Polygon: bars, trades, quotes and options into TimescaleDB."""
