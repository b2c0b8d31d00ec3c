"""The clocks of the live path: the wall clock, and a replay clock that trades a recorded session as if live."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


def wall_clock() -> datetime:
    return datetime.now(UTC)


def replay_clock(start: datetime, speed: float = 1.0, origin: float | None = None) -> Callable[[], datetime]:
    """A clock that reads ``start`` at wall time ``origin`` (``time.time()``; default: now) and runs ``speed``
    times wall speed: a recorded session traded as if live (the limits then judge ages on this clock exactly
    as on the wall clock). Processes given the same three values share one clock (the demo's feed and loop)."""
    origin = time.time() if origin is None else origin
    return lambda: start + timedelta(seconds=(time.time() - origin) * speed)
