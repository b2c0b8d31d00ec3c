"""The carrier of completed bars from ``ats stream`` to ``ats live``: a Redis Stream with one consumer group.

* The stream side calls :func:`publish_bars` once a bar is validated and stored: one ``XADD`` per bar time
  (every symbol's bar of that minute in one entry), trimmed to about :data:`MAX_ENTRIES`. It never waits for
  the loop: appending to a stream costs the same whether the loop is running, slow or down.
* The loop reads with ``XREADGROUP`` and acknowledges an entry only after its bars are fully handled
  (features, signal, orders). Entries delivered but not acknowledged stay in the group's pending list; a
  restarted loop reads its own pending entries first, then new ones, so no bar is skipped; replaying one is
  harmless because signal ids and ``client_order_id`` are derived from the bar.
* The group is created (at the stream's end) by the first publish or the first loop start, whichever comes
  first; from then on the group remembers what it was given, across restarts of either side.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
import polars as pl
import redis

from ats_pipelines.resources import RedisResource, redis_keys
from ats_pipelines.resources.simulated_broker import BAR_LENGTH

GROUP = "live"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_ENTRIES = 200_000  # about 500 sessions of minute bars; trimming is approximate (~), as Redis does it cheaply
BAR_FIELDS = ("symbol", "open", "high", "low", "close", "volume", "vwap")
ENTRY_SCHEMA = {"symbol": pl.String, "timestamp": pl.Datetime("us", "UTC"), "open": pl.Float64, "high": pl.Float64,
              "low": pl.Float64, "close": pl.Float64, "volume": pl.Float64, "vwap": pl.Float64}


def publish_bars(redis_resource: RedisResource, rows: pl.DataFrame) -> int:
    """Append validated bar rows (``stock_aggs`` rows as the column maps make them) to the live loop's
    stream, one entry per timeframe and bar time; returns the number of entries. Only adjusted stock bars
    are carried (the features the loop computes are those of the adjusted series); other rows (crypto,
    raw bars) are left out. Call it after the rows are written, so the loop finds each bar in the database."""
    if rows.height == 0 or "adjusted" not in rows.columns:
        return 0
    bars = rows.filter(pl.col("adjusted")).select(
        "timeframe", pl.col("timestamp").dt.convert_time_zone("UTC").dt.epoch("us").alias("epoch_us"),
        *(pl.col(c).cast(pl.Float64) if c != "symbol" else pl.col(c) for c in BAR_FIELDS))
    if bars.height == 0:
        return 0
    pipe = redis_resource.client.pipeline(transaction=False)
    keys = set()
    for (timeframe, epoch_us), group in bars.sort("timeframe", "epoch_us", "symbol").group_by(
            "timeframe", "epoch_us", maintain_order=True):
        key = redis_keys.LIVE_BARS.build(timeframe=timeframe)
        if key not in keys:
            keys.add(key)
            pipe.execute_command("XGROUP", "CREATE", key, GROUP, "$", "MKSTREAM")
        pipe.xadd(key, {"timestamp": str(epoch_us), "bars": orjson.dumps(group.select(BAR_FIELDS).rows())},
                  maxlen=MAX_ENTRIES, approximate=True)
    replies = pipe.execute(raise_on_error=False)
    for reply in replies:
        if isinstance(reply, Exception) and "BUSYGROUP" not in str(reply):
            raise reply
    return len(replies) - len(keys)


@dataclass(frozen=True)
class BarEntry:
    """One stream entry: every symbol's bar of one timeframe and bar start."""

    entry_id: str
    timeframe: str
    timestamp: datetime
    bars: pl.DataFrame  # ENTRY_SCHEMA
    received_at: float  # time.time() when the loop read it

    @property
    def end(self) -> datetime:
        """When the bar ended: the earliest moment its close was known."""
        return self.timestamp + BAR_LENGTH[self.timeframe]


class BarConsumer:
    """One consumer of the group on one timeframe's stream: its own pending entries first, then new ones."""

    def __init__(self, redis_resource: RedisResource, timeframe: str = "1m", consumer: str | None = None) -> None:
        self.redis, self.timeframe = redis_resource, timeframe
        self.key = redis_keys.LIVE_BARS.build(timeframe=timeframe)
        self.consumer = consumer or f"live-{socket.gethostname()}"
        self._backlog = True
        self.ensure_group()

    def ensure_group(self) -> None:
        try:
            self.redis.client.xgroup_create(self.key, GROUP, id="$", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def read(self, block_ms: int = 1000, count: int = 10) -> list[BarEntry]:
        """The next entries: this consumer's unacknowledged ones (after a restart), then new ones, waiting up to
        ``block_ms`` for a new one."""
        if self._backlog:
            reply = self.redis.client.xreadgroup(GROUP, self.consumer, {self.key: "0"}, count=count)
            entries = reply[0][1] if reply else []
            if entries:
                return [self._entry(i, f) for i, f in entries]
            self._backlog = False
        reply = self.redis.client.xreadgroup(GROUP, self.consumer, {self.key: ">"}, count=count, block=block_ms)
        return [self._entry(i, f) for i, f in (reply[0][1] if reply else [])]

    def rewind(self) -> None:
        """Read this consumer's unacknowledged entries again before new ones (after a failed entry)."""
        self._backlog = True

    def ack(self, entry: BarEntry) -> None:
        self.redis.client.xack(self.key, GROUP, entry.entry_id)

    def pending(self) -> int:
        """Entries delivered to the group and not acknowledged."""
        return self.redis.client.xpending(self.key, GROUP)["pending"]

    def _entry(self, entry_id: str, fields: dict[str, str]) -> BarEntry:
        timestamp = EPOCH + timedelta(microseconds=int(fields["timestamp"]))
        rows = orjson.loads(fields["bars"])
        frame = pl.DataFrame(rows, schema=[c for c in BAR_FIELDS], orient="row").with_columns(
            pl.lit(timestamp).cast(ENTRY_SCHEMA["timestamp"]).alias("timestamp")).select(
            [pl.col(c).cast(t) for c, t in ENTRY_SCHEMA.items()])
        return BarEntry(entry_id, self.timeframe, timestamp, frame, time.time())
