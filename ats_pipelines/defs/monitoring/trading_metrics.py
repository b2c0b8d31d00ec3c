"""Daily trading metrics of a strategy: equity, the day's P&L, exposure, drawdown, Sharpe, win rate, and
per symbol position value and unrealised P&L, as ``trading_metrics`` rows (one per metric, day and symbol)."""

from __future__ import annotations

import base64
import io
import math
from collections import defaultdict, deque
from datetime import datetime

import polars as pl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ats_pipelines.resources import TimescaleResource
from ats_pipelines.resources.broker import Broker
from ats_pipelines.sql_files import read_sql_beside

EQUITY_HISTORY_SQL = read_sql_beside(__file__, "equity_history.sql")
FILLED_ORDERS_SQL = read_sql_beside(__file__, "filled_orders.sql")


def round_trip_pnl(fills: pl.DataFrame) -> list[float]:
    """Realised P&L of every closing fill, matching it against the earliest open lots (FIFO), net of the
    commissions of both sides."""
    lots: dict[str, deque] = defaultdict(deque)  # symbol -> [quantity (signed), price, commission per share]
    results = []
    for symbol, side, quantity, price, commission in fills.iter_rows():
        signed = quantity if side == "buy" else -quantity
        per_share = commission / quantity
        book, pnl, closed = lots[symbol], 0.0, False
        while signed and book and (book[0][0] > 0) != (signed > 0):
            lot = book[0]
            take = min(abs(signed), abs(lot[0]))
            direction = 1 if lot[0] > 0 else -1
            pnl += (price - lot[1]) * take * direction - (lot[2] + per_share) * take
            lot[0] -= take * direction
            signed += take * direction
            closed = True
            if not lot[0]:
                book.popleft()
        if signed:
            book.append([signed, price, per_share])
        if closed:
            results.append(pnl)
    return results


def metric_rows(timescale: TimescaleResource, broker: Broker, strategy_id: str, day: datetime) -> pl.DataFrame:
    """Today's ``trading_metrics`` rows of the strategy (``day`` is the row time, midnight UTC)."""
    account, held = broker.account(), broker.positions()
    history = timescale.read(EQUITY_HISTORY_SQL, {"strategy_id": strategy_id})
    curve = [e for t, e in history.iter_rows() if t < day] + [account.equity]
    peak = max(curve)
    returns = [b / a - 1 for a, b in zip(curve, curve[1:], strict=False) if a]
    sd = _stdev(returns)
    wins = round_trip_pnl(timescale.read(FILLED_ORDERS_SQL, {"strategy_id": strategy_id}))
    metrics: dict[str, float | None] = {
        "equity": account.equity, "daily_pnl": account.equity - account.last_equity,
        "gross_exposure": sum(abs(p.qty) * p.current_price for p in held), "open_positions": len(held),
        "max_drawdown": (peak - min(curve[curve.index(peak):])) / peak if peak else 0.0,
        "sharpe": sum(returns) / len(returns) / sd * math.sqrt(252) if sd else None,
        "win_rate": sum(p > 0 for p in wins) / len(wins) if wins else None,
        "realized_pnl": sum(wins),
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
