"""Helpers shared by the benchmarks: a fresh database and the bare-COPY baseline."""

from __future__ import annotations

import time

import psycopg

from ats_pipelines.db import migrate
from ats_pipelines.settings import database_name, with_database

CHUNK = 1 << 20


def fresh_database(url: str) -> None:
    """Drop and recreate the database of ``url`` and migrate it to head."""
    name = database_name(url)
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    migrate.upgrade(url)


def binary_copy_seconds(conn: psycopg.Connection, source_query: str, like_table: str) -> tuple[int, float]:
    """The baseline: rows of ``source_query`` pre-serialised by the server in binary COPY format, then
    streamed into a new table with ``like_table``'s columns and indexes. Returns (rows, seconds of the COPY)."""
    binary = bytearray()
    with conn.cursor().copy(f"COPY ({source_query}) TO STDOUT (FORMAT binary)") as copy:
        for block in copy:
            binary += block
    conn.execute(f"CREATE TABLE bench_copy_target (LIKE {like_table} INCLUDING ALL)")
    conn.execute("CHECKPOINT")
    started = time.perf_counter()
    with conn.transaction(), conn.cursor().copy("COPY bench_copy_target FROM STDIN (FORMAT binary)") as copy:
        view = memoryview(binary)
        for i in range(0, len(view), CHUNK):
            copy.write(view[i : i + CHUNK])
    seconds = time.perf_counter() - started
    rows = conn.execute("SELECT count(*) FROM bench_copy_target").fetchone()[0]
    conn.execute("DROP TABLE bench_copy_target")
    conn.execute("CHECKPOINT")
    return rows, seconds
