"""The real-time Polygon WebSocket stream: `ats stream`, a long-running process beside Dagster."""
