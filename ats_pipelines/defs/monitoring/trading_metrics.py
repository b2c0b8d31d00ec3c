"""Daily trading metrics of a strategy: equity, the day's P&L, exposure, drawdown, Sharpe, win rate, and
per symbol position value and unrealised P&L, as ``trading_metrics`` rows (one per metric, day and symbol)."""

from __future__ import annotations

import base64
import io
import math
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ats_pipelines.resources import TimescaleResource
from ats_pipelines.resources.broker import Broker, BrokerPosition
from ats_pipelines.resources.corporate_actions import Dividend, Split, corporate_actions
from ats_pipelines.sql_files import read_sql_beside

EQUITY_HISTORY_SQL = read_sql_beside(__file__, "equity_history.sql")
FILLED_ORDERS_SQL = read_sql_beside(__file__, "filled_orders.sql")


@dataclass
class FifoBook:
    """What a strategy's fills add up to, matched first in, first out: the realised P&L of every closing fill
    (net of the commissions of both sides), the dividends received, and the lots still open by symbol
    (``[quantity (signed), price, commission per share]``)."""

    round_trips: list[float] = field(default_factory=list)
    dividends: float = 0.0
    lots: dict[str, deque] = field(default_factory=lambda: defaultdict(deque))


def fifo_book(fills: pl.DataFrame, actions: Sequence[Split | Dividend] = (), until: datetime | None = None
              ) -> FifoBook:
    """Match ``fills`` (symbol, side, quantity, price, commission; and ``timestamp`` when ``actions`` are
    given) oldest first. Splits before a fill turn its symbol's open lots into post-split units (quantity x
    ratio, price and commission per share / ratio), so a pre-split buy pairs with a post-split sell of four
    times the shares; a dividend pays its amount per share held when its ex-date began, once paid (by
    ``until``)."""
    book, pending, owed = FifoBook(), sorted(actions, key=_action_time), {}

    def apply_actions(up_to: datetime | None) -> None:
        """Splits and ex-dates up to ``up_to``, then the dividends paid by then (and by ``until``)."""
        while pending and (up_to is None or _action_time(pending[0]) <= up_to):
            action = pending.pop(0)
            lots = book.lots[action.symbol]
            if isinstance(action, Split):
                ratio = float(action.ratio)
                for lot in lots:
                    lot[0], lot[1], lot[2] = lot[0] * ratio, lot[1] / ratio, lot[2] / ratio
            else:
                owed[action] = sum(lot[0] for lot in lots)
        for dividend in [d for d in owed if (up_to is None or d.paid <= up_to) and (until is None or d.paid <= until)]:
            book.dividends += owed.pop(dividend) * float(dividend.amount)

    for row in fills.iter_rows(named=True):
        if actions:
            apply_actions(row["timestamp"])
        symbol, quantity, price = row["symbol"], row["quantity"], row["price"]
        signed = quantity if row["side"] == "buy" else -quantity
        per_share = row["commission"] / quantity
        lots, pnl, closed = book.lots[symbol], 0.0, False
        while signed and lots and (lots[0][0] > 0) != (signed > 0):
            lot = lots[0]
            take = min(abs(signed), abs(lot[0]))
            direction = 1 if lot[0] > 0 else -1
            pnl += (price - lot[1]) * take * direction - (lot[2] + per_share) * take
            lot[0] -= take * direction
            signed += take * direction
            closed = True
            if abs(lot[0]) < 1e-9:
                lots.popleft()
        if signed:
            lots.append([signed, price, per_share])
        if closed:
            book.round_trips.append(pnl)
    apply_actions(until)
    return book


def _action_time(action: Split | Dividend) -> datetime:
    return action.at if isinstance(action, Split) else action.ex


def metric_rows(timescale: TimescaleResource, broker: Broker, strategy_id: str, day: datetime,
                held: list[BrokerPosition]) -> pl.DataFrame:
    """Today's ``trading_metrics`` rows of the strategy (``day`` is the row time, midnight UTC) holding ``held``
    (its own positions); equity and the day's P&L are the broker account's."""
    account = broker.account()
    history = timescale.read(EQUITY_HISTORY_SQL, {"strategy_id": strategy_id})
    curve = [e for t, e in history.iter_rows() if t < day] + [account.equity]
    peak = max(curve)
    returns = [b / a - 1 for a, b in zip(curve, curve[1:], strict=False) if a]
    sd = _stdev(returns)
    fills = timescale.read(FILLED_ORDERS_SQL, {"strategy_id": strategy_id})
    fifo = fifo_book(fills, corporate_actions(timescale, fills["symbol"].to_list()), until=datetime.now(UTC))
    wins = fifo.round_trips
    metrics: dict[str, float | None] = {
        "equity": account.equity, "daily_pnl": account.equity - account.last_equity,
        "gross_exposure": sum(abs(p.qty) * p.current_price for p in held), "open_positions": len(held),
        "max_drawdown": (peak - min(curve[curve.index(peak):])) / peak if peak else 0.0,
        "sharpe": sum(returns) / len(returns) / sd * math.sqrt(252) if sd else None,
        "win_rate": sum(p > 0 for p in wins) / len(wins) if wins else None,
        "realized_pnl": sum(wins) + fifo.dividends,
        "dividends": fifo.dividends,
    }
    rows = [{"metric_name": k, "metric_value": v, "symbol": None} for k, v in metrics.items() if v is not None]
    for p in held:
        rows += [{"metric_name": "position_value", "metric_value": p.qty * p.current_price, "symbol": p.symbol},
                 {"metric_name": "unrealized_pnl", "metric_value": p.unrealized_pl, "symbol": p.symbol}]
    return pl.DataFrame(rows, schema={"metric_name": pl.String, "metric_value": pl.Float64, "symbol": pl.String}
                        ).with_columns(pl.lit(day).alias("timestamp"), pl.lit(strategy_id).alias("strategy_id"),
                                       pl.lit("1d").alias("timeframe")).with_columns(pl.col("metric_value").round(8))


def equity_markdown(timescale: TimescaleResource, strategy_id: str, days: int = 30) -> str:
    """The equity curve as the Dagster UI shows it: a PNG chart (inline, base64) above a table of the last
    ``days`` points."""
    history = timescale.read(EQUITY_HISTORY_SQL, {"strategy_id": strategy_id})
    rows = (f"| {t:%Y-%m-%d} | {e:,.2f} |" for t, e in history.tail(days).iter_rows())
    table = ["| day | equity |", "|---|---|", *rows]
    return f"![equity curve](data:image/png;base64,{equity_png(history)})\n\n" + "\n".join(table)


def equity_png(history: pl.DataFrame) -> str:
    """A small line chart of ``timestamp``/``equity`` as base64 PNG (matplotlib, no display needed)."""
    figure = Figure(figsize=(6, 2.4), dpi=100)
    axes = figure.add_subplot()
    axes.plot(history["timestamp"].to_list(), history["equity"].to_list(), color="#2563eb", marker="o",
              markersize=3)
    axes.set_ylabel("equity")
    axes.grid(alpha=0.3)
    figure.autofmt_xdate()
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return base64.b64encode(buffer.getvalue()).decode()


def _stdev(values: list[float]) -> float:
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
