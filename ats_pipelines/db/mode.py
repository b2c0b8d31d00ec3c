"""Which kind of server the market-data database runs on: TimescaleDB or plain PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg


@dataclass(frozen=True)
class DatabaseMode:
    """The database's mode; ``kind`` is ``"timescale"`` when the extension is installed in it."""

    kind: str
    server_version: str
    timescale_version: str | None

    @property
    def is_timescale(self) -> bool:
        return self.kind == "timescale"

    def describe(self) -> str:
        if self.is_timescale:
            return (f"TimescaleDB mode: TimescaleDB {self.timescale_version} on PostgreSQL {self.server_version} "
                    "(hypertables, compression, retention and continuous aggregates on)")
        return (f"plain PostgreSQL mode: PostgreSQL {self.server_version} without the timescaledb extension "
                "(same tables and keys; no hypertables, compression, retention or continuous aggregates)")


def detect_mode(conn: psycopg.Connection) -> DatabaseMode:
    """Ask the server for its version and whether timescaledb is installed in this database."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT current_setting('server_version'),"
            " (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb')"
        )
        server_version, ts_version = cur.fetchone()
    kind = "timescale" if ts_version else "plain"
    return DatabaseMode(kind, server_version.split()[0], ts_version)
