"""BrokerResource: which broker the trading assets use, ``simulated`` (the default) or ``alpaca``."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import dagster as dg
from pydantic import Field

from ats_pipelines.resources.alpaca import AlpacaResource
from ats_pipelines.resources.broker import Broker
from ats_pipelines.resources.live_simulated_broker import LiveSimulatedBroker
from ats_pipelines.resources.redis_cache import RedisResource
from ats_pipelines.resources.simulated_broker import SimulatedBroker
from ats_pipelines.resources.timescale import TimescaleResource
from ats_pipelines.sql_files import read_sql_beside

KINDS = ("simulated", "alpaca")
STRATEGY_IDS_SQL = read_sql_beside(__file__, "strategy_ids.sql")


class BrokerResource(dg.ConfigurableResource):
    """``kind`` (``ATS_BROKER``): ``simulated`` fills against the stored bars, its book rebuilt from the
    strategy's recorded orders; ``alpaca`` trades through Alpaca (paper by default) with the credentials of
    ``ALPACA_API_KEY_ID`` / ``ALPACA_API_SECRET_KEY``, read from the environment when the broker is opened
    (never stored in run configuration). Nothing reaches a real broker unless ``alpaca`` is chosen."""

    kind: str | None = Field(default=None, description="simulated or alpaca; defaults to ATS_BROKER, then simulated")
    alpaca_base_url: str | None = Field(default=None, description="defaults to ALPACA_BASE_URL, then paper")
    timeout_seconds: float = Field(default=10.0, description="alpaca: seconds before a request counts as lost")
    slippage_bps: float = Field(default=5.0, description="simulated: fills move this much against the trader")
    commission_per_share: float = Field(default=0.005, description="simulated: commission per share")
    max_volume_share: float = Field(default=0.1, description="simulated: most of a bar's volume one order takes")
    cash: float = Field(default=100_000.0, description="simulated: starting cash of each strategy")
    redis: RedisResource | None = Field(default=None, description="alpaca: where the key's rate limit is shared "
                                        "between processes; None keeps it in this process")

    def chosen(self) -> str:
        kind = (self.kind or os.environ.get("ATS_BROKER") or "simulated").lower()
        if kind not in KINDS:
            raise ValueError(f"broker kind must be one of {', '.join(KINDS)}, not {kind!r}")
        return kind

    @contextmanager
    def broker(self, timescale: TimescaleResource, strategy_id: str,
               live_clock: Callable[[], datetime] | None = None) -> Iterator[Broker]:
        """The broker of ``strategy_id`` for one run; with ``live_clock`` (the live loop's) the simulated broker
        trades on that clock (:class:`LiveSimulatedBroker`) instead of replaying history."""
        if self.chosen() == "alpaca":
            with self._alpaca().broker() as broker:
                yield broker
            return
        if live_clock is not None:
            yield LiveSimulatedBroker.for_strategy(timescale, strategy_id, live_clock, **self._simulated_settings())
            return
        yield self._simulated(timescale, strategy_id)

    @contextmanager
    def accounts(self, timescale: TimescaleResource) -> Iterator[list[tuple[str | None, Broker]]]:
        """Every account the chosen broker holds, for an emergency stop: Alpaca's one account (strategy None),
        or each strategy's simulated book (strategies table). Never another broker than ``chosen``."""
        if self.chosen() == "alpaca":
            with self._alpaca().broker() as broker:
                yield [(None, broker)]
            return
        strategies = timescale.read(STRATEGY_IDS_SQL)["strategy_id"].to_list()
        yield [(strategy, self._simulated(timescale, strategy)) for strategy in strategies]

    def _alpaca(self) -> AlpacaResource:
        return AlpacaResource(api_key=os.environ.get("ALPACA_API_KEY_ID", ""),
                              secret_key=os.environ.get("ALPACA_API_SECRET_KEY", ""),
                              base_url=self.alpaca_base_url, timeout_seconds=self.timeout_seconds, redis=self.redis)

    def _simulated_settings(self) -> dict[str, float]:
        return {"slippage_bps": self.slippage_bps, "commission_per_share": self.commission_per_share,
                "max_volume_share": self.max_volume_share, "cash": self.cash}

    def _simulated(self, timescale: TimescaleResource, strategy_id: str) -> SimulatedBroker:
        return SimulatedBroker.replaying(timescale, strategy_id, datetime.now(UTC), **self._simulated_settings())
