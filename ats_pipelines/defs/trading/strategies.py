"""Strategies: the ``strategies`` table is the source of truth. Every run trades each ``active`` strategy with its
stored model and parameters; ``paused`` and ``retired`` ones place nothing (their open orders are still
reconciled and their positions still synced). A run config creates its named strategy on first use and
changes only the parameters it names, never the others."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, fields

from ats_pipelines.defs.trading.orders import ORDER_NAMESPACE
from ats_pipelines.defs.trading.risk import RiskLimits
from ats_pipelines.resources import TimescaleResource
from ats_pipelines.sql_files import read_sql_beside

UPSERT_STRATEGY_SQL = read_sql_beside(__file__, "upsert_strategy.sql")
STRATEGIES_SQL = read_sql_beside(__file__, "strategies.sql")
DEFAULT_MODEL = "next_bar_direction_xgb"
LIMIT_NAMES = frozenset(f.name for f in fields(RiskLimits))


@dataclass(frozen=True)
class Strategy:
    """A stored strategy: its limits are the defaults overlaid with its stored parameters."""

    strategy_id: str
    name: str
    model_name: str
    status: str
    limits: RiskLimits

    @property
    def active(self) -> bool:
        return self.status == "active"


def strategy_id_of(name: str) -> str:
    """A strategy's id: stable per name."""
    return str(uuid.uuid5(ORDER_NAMESPACE, f"strategy|{name}"))


def ensure_strategy(timescale: TimescaleResource, name: str, model_name: str | None,
                    parameters: dict[str, float]) -> str:
    """Create the strategy on first use (the default limits, then ``parameters``; ``model_name`` or the default
    model); on later calls change only what is given. Returns its id."""
    unknown = set(parameters) - LIMIT_NAMES
    if unknown:
        raise ValueError(f"unknown strategy parameters: {', '.join(sorted(unknown))}")
    strategy_id = strategy_id_of(name)
    timescale.execute(UPSERT_STRATEGY_SQL, {
        "strategy_id": strategy_id, "name": name, "model_name": model_name,
        "description": f"trades {model_name or DEFAULT_MODEL} signals", "default_model": DEFAULT_MODEL,
        "defaults": json.dumps(vars(RiskLimits())), "given": json.dumps(parameters),
    })
    return strategy_id


def strategies(timescale: TimescaleResource) -> list[Strategy]:
    """Every stored strategy, by name (active or not)."""
    return [Strategy(strategy_id, name, model_name or DEFAULT_MODEL, status,
                     RiskLimits(**{k: v for k, v in json.loads(parameters).items() if k in LIMIT_NAMES}))
            for strategy_id, name, model_name, status, parameters in timescale.read(STRATEGIES_SQL).iter_rows()]
