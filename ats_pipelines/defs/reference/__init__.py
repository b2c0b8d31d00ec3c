"""Reference data from Polygon: ticker details, news, market holidays and market status."""
