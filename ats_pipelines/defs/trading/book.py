"""What ``ats book`` prints: the live loop's state, the newest orders and every open position with its P&L and
its strategy's last recorded equity (the same rows the UI's trading assets and the live loop write)."""

from __future__ import annotations

from rich.table import Table

from ats_pipelines.resources import RedisResource, TimescaleResource, redis_keys
from ats_pipelines.sql_files import read_sql_beside

BOOK_ORDERS_SQL = read_sql_beside(__file__, "book_orders.sql")
BOOK_POSITIONS_SQL = read_sql_beside(__file__, "book_positions.sql")
LIVE_FIELDS = ("status", "last_bar", "handled_at", "bar_ms", "orders_submitted", "signals_blocked", "equity", "stop")


def book_tables(timescale: TimescaleResource, redis: RedisResource, orders: int = 20) -> list[Table]:
    """The live loop's status hash, the ``orders`` newest orders, and the open positions."""
    live = redis.client.hgetall(redis_keys.component_status("live"))
    state = Table(title="ats live (component:live:status)", title_justify="left")
    state.add_column("field")
    state.add_column("value")
    for name in LIVE_FIELDS if live else ():
        state.add_row(name, str(live.get(name, "-")))
    if not live:
        state.add_row("status", "no state in Redis: ats live has not handled a bar yet")
    newest = Table(title=f"the {orders} newest orders", title_justify="left")
    for column in ("strategy", "bar", "symbol", "side", "quantity", "status", "filled at"):
        newest.add_column(column)
    for strategy, bar, symbol, side, quantity, status, price in timescale.read(
            BOOK_ORDERS_SQL, {"limit": orders}).iter_rows():
        newest.add_row(strategy or "-", f"{bar:%Y-%m-%d %H:%M}" if bar else "-", symbol, side, f"{quantity:g}",
                       status, f"{price:,.2f}" if price is not None else "-")
    held = Table(title="open positions", title_justify="left")
    for column in ("strategy", "symbol", "quantity", "entry", "price", "P&L", "P&L %", "strategy equity"):
        held.add_column(column, justify="left" if column in {"strategy", "symbol"} else "right")
    for strategy, symbol, quantity, entry, price, pnl, pct, equity in timescale.read(BOOK_POSITIONS_SQL).iter_rows():
        held.add_row(strategy or "-", symbol, f"{quantity:g}", f"{entry:,.2f}", f"{price:,.2f}", f"{pnl:,.2f}",
                     f"{pct:.2f}%", f"{equity:,.2f}" if equity is not None else "-")
    return [state, newest, held]
