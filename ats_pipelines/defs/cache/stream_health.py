"""Is the stream alive? During NYSE regular hours (early closes included) a stream that has received nothing
for ``STALE_AFTER`` is stalled; outside them silence is normal for stocks."""

from __future__ import annotations

from datetime import datetime, timedelta

from ats_pipelines.market_calendar import sessions

STALE_AFTER = timedelta(minutes=2)


def stream_health(status: dict[str, str], now: datetime) -> tuple[str, str]:
    """``(health, reason)`` of the stream from its ``component:stream:status`` fields at ``now`` (UTC):
    ``ok``, ``stalled`` (market open, silent too long or never started) or ``idle`` (market closed)."""
    today = sessions(now.date() - timedelta(days=1), now.date())
    open_now = any(s.open <= now < s.close for s in today)
    if not open_now:
        return "idle", "the US equity market is closed"
    if not status.get("last_message_at"):
        return "stalled", "market open and the stream has never received a message (is `ats stream` running?)"
    silent = now - datetime.fromisoformat(status["last_message_at"])
    if silent > STALE_AFTER:
        return "stalled", f"market open and no message for {int(silent.total_seconds())} s"
    return "ok", f"last message {int(silent.total_seconds())} s ago"
