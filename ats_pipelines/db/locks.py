"""Session advisory locks of PostgreSQL: one holder at a time for a named piece of work, whoever starts it
(a schedule, a manual run, a backfill, the live loop), across processes and machines sharing the database."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ats_pipelines.resources.timescale import TimescaleResource


@contextmanager
def advisory_lock(timescale: TimescaleResource, name: str, wait_seconds: float,
                  busy: Callable[[], Exception]) -> Iterator[None]:
    """Hold the advisory lock of ``name`` (a session lock on a connection kept for the block); wait up to
    ``wait_seconds`` for it (0: try once), then raise ``busy()``."""
    key = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest()) % 2**63
    deadline = time.monotonic() + wait_seconds
    with timescale.connection() as conn:
        while not conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]:
            conn.rollback()
            if time.monotonic() >= deadline:
                raise busy()
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
        conn.commit()
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
            conn.commit()
