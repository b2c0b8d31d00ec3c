"""The money path under faults (issue 24), against the real PostgreSQL and Redis and the local Alpaca-compatible
broker made to lose answers: each test is one numbered defect, or one clause of the money rule of
docs/trading.md ("what the system does when it cannot know")."""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from click.testing import CliRunner

from ats_pipelines.cli import main
from ats_pipelines.defs.trading.assets import ORDERS_POOL, StrategyConfig, orders
from ats_pipelines.defs.trading.emergency import resume, trigger_stop
from ats_pipelines.defs.trading.orders import order_id, place_orders, placement_lock
from ats_pipelines.defs.trading.risk import RiskLimits
from ats_pipelines.resources import RedisResource
from ats_pipelines.resources.alpaca import AlpacaResource
from ats_pipelines.resources.broker import OrderRequest
from ats_pipelines.resources.simulated_broker import BAR_LENGTH
from tests.test_trading import RECORDED, meta, trade, write_signals

DOWN_REDIS = RedisResource(redis_url="redis://127.0.0.1:1/0")  # nothing listens there
WINDOW = (datetime(2024, 3, 7, tzinfo=UTC), datetime(2024, 3, 8, tzinfo=UTC))


def default_strategy(db) -> str:
    return StrategyConfig().strategy_id(db)


def alpaca_client(server):
    return AlpacaResource(api_key="demo-key-id", secret_key="demo-secret", base_url=server.base_url,
                          timeout_seconds=0.5, requests_per_minute=6000).broker()


def signal_ids(sql_conn) -> list[str]:
    return [r[0] for r in sql_conn.execute("SELECT signal_id::text FROM trading_signals ORDER BY timestamp")]


# 1. Rejected while filled -----------------------------------------------------------------------------------

def test_a_lost_answer_whose_look_ups_fail_too_stays_pending_and_is_reconciled_to_the_fill(db, cache, sql_conn,
                                                                                             alpaca, t0):
    write_signals(db, sql_conn, t0, [("AAPL", "buy", 0)])
    alpaca.accept_then_stall_seconds = 2.0  # the broker takes the order; the answer is lost
    alpaca.unavailable_gets["/v2/orders:by_client_order_id"] = 7  # and every look-up of it gets 503 ...
    alpaca.retry_after = "0.05"  # ... with Retry-After (1 s at Alpaca; short here)
    md = meta(trade(db, cache, alpaca, t0))
    assert (md["orders_rejected"], md["orders_uncertain"]) == (0, 1) and len(alpaca.orders) == 1
    # Reconciliation (same run, the broker answering again) finds the fill: never "rejected" with 0 filled.
    assert sql_conn.execute("SELECT status, filled_quantity::float8, external_order_id FROM orders").fetchone() == (
        "filled", 52.0, next(iter(alpaca.orders)))
    assert {r[0] for r in sql_conn.execute("SELECT alert_type FROM alerts")} == {"order_uncertain"}


def test_only_the_brokers_own_refusal_rejects_an_order(db, cache, sql_conn, alpaca, t0):
    write_signals(db, sql_conn, t0, [("TSLA", "buy", 0), ("AAPL", "buy", 1)])
    alpaca.reject_symbols = {"TSLA"}  # 403 insufficient buying power: a refusal about the order
    md = meta(trade(db, cache, alpaca, t0))
    assert (md["orders_rejected"], md["orders_submitted"]) == (1, 1)
    assert dict(sql_conn.execute("SELECT symbol, status FROM orders").fetchall()) == {"TSLA": "rejected",
                                                                                      "AAPL": "filled"}


def test_a_reconciliation_look_up_without_an_answer_leaves_the_order_pending_until_the_broker_answers(
        db, cache, sql_conn, alpaca, t0):
    write_signals(db, sql_conn, t0, [("AAPL", "buy", 0)])
    alpaca.accept_then_stall_seconds = 2.0
    alpaca.unavailable_gets["/v2/orders:by_client_order_id"] = 14  # the submit's look-up and reconciliation's
    alpaca.retry_after = "0.01"
    trade(db, cache, alpaca, t0)
    assert sql_conn.execute("SELECT status, filled_quantity::float8 FROM orders").fetchone() == ("pending_new", 0.0)
    assert sql_conn.execute("SELECT count(*) FROM alerts WHERE alert_type = 'order_uncertain'").fetchone()[0] == 2
    trade(db, cache, alpaca, t0)  # the broker answers again
    assert sql_conn.execute("SELECT status, filled_quantity::float8 FROM orders").fetchone() == ("filled", 52.0)
    assert len(alpaca.orders) == 1


def test_an_unreadable_book_at_the_broker_sends_nothing_and_fails_the_run(db, cache, sql_conn, alpaca, t0):
    write_signals(db, sql_conn, t0, [("AAPL", "buy", 0)])
    alpaca.unavailable_gets["/v2/positions"] = 7  # every try of the positions read gets 503
    alpaca.retry_after = "0.01"
    result = trade(db, cache, alpaca, t0, raise_on_error=False)
    assert not result.success and alpaca.orders == {}
    assert sql_conn.execute("SELECT count(*) FROM orders").fetchone()[0] == 0


# 3. Two runs at once ----------------------------------------------------------------------------------------

def test_a_run_waits_for_the_strategys_placement_lock_and_never_submits_beside_another(db, cache, sql_conn, alpaca, t0):
    write_signals(db, sql_conn, t0, [("AAPL", "buy", 0)])
    strategy = default_strategy(db)
    with placement_lock(db, strategy, wait_seconds=0):  # another run is placing orders for the strategy
        result = trade(db, cache, alpaca, t0, raise_on_error=False, lock_wait_seconds=0)
    assert not result.success and alpaca.orders == {}
    assert sql_conn.execute("SELECT count(*) FROM orders").fetchone()[0] == 0
    assert meta(trade(db, cache, alpaca, t0))["orders_submitted"] == 1  # lock released: the next run places it
    assert orders.op.pool == ORDERS_POOL


def test_an_order_another_run_recorded_first_is_not_submitted_again(db, cache, sql_conn, alpaca):
    write_signals(db, sql_conn, RECORDED, [("AAPL", "buy", 0)])
    strategy = default_strategy(db)
    [signal] = signal_ids(sql_conn)

    class OtherRunLandsFirst:
        """The Alpaca broker, with another run recording the same order between our read and our insert."""

        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def positions(self):
            sql_conn.execute("INSERT INTO orders VALUES (%s, NULL, now(), 'AAPL', 'market', 'buy', 52, NULL,"
                             " 'pending_new', %s, %s, 0, NULL, 0, now())",
                             (order_id(signal, strategy), signal, strategy))
            return self.inner.positions()

    with alpaca_client(alpaca) as client:
        report = place_orders(db, cache, OtherRunLandsFirst(client), strategy_id=strategy,
                              model_name="next_bar_direction_xgb", window=WINDOW, limits=RiskLimits(),
                              now=RECORDED + timedelta(minutes=1))
    assert (report.submitted, report.recorded_elsewhere) == (0, 1) and alpaca.orders == {}


# 2. Open orders in the risk book ----------------------------------------------------------------------------

def test_open_orders_at_the_broker_count_against_the_position_limit(db, cache, sql_conn, alpaca, t0):
    alpaca.fill = False  # orders wait at the broker, unfilled
    write_signals(db, sql_conn, t0, [("AAPL", "buy", 0), ("AAPL", "buy", 1)])
    assert meta(trade(db, cache, alpaca, t0))["orders_submitted"] == 2  # 2 x 52 x 190 = 19,760
    write_signals(db, sql_conn, t0, [("AAPL", "buy", 2)])
    md = meta(trade(db, cache, alpaca, t0))
    assert (md["orders_submitted"], md["signals_blocked"]) == (0, 1) and len(alpaca.orders) == 2
    assert "would be 29,640.00" in md["block_reasons"][0]


def test_orders_filled_at_the_broker_and_not_yet_reconciled_still_count(db, cache, sql_conn, alpaca, t0):
    alpaca.fill = False
    write_signals(db, sql_conn, t0, [("AAPL", "buy", 0), ("AAPL", "buy", 1)])
    trade(db, cache, alpaca, t0)
    alpaca.fill_open_orders()  # filled at Alpaca; the orders table still says accepted until reconciled
    write_signals(db, sql_conn, t0, [("AAPL", "buy", 2)])
    md = meta(trade(db, cache, alpaca, t0))
    assert (md["orders_submitted"], md["signals_blocked"]) == (0, 1) and len(alpaca.orders) == 2


def test_open_orders_of_other_symbols_count_in_the_gross_exposure(db, cache, sql_conn, alpaca, t0):
    alpaca.fill = False
    write_signals(db, sql_conn, t0, [("MSFT", "buy", 0)])
    assert meta(trade(db, cache, alpaca, t0, max_gross_exposure=15_000))["orders_submitted"] == 1  # 25 x 400, open
    write_signals(db, sql_conn, t0, [("AAPL", "buy", 1)])
    md = meta(trade(db, cache, alpaca, t0))
    assert (md["orders_submitted"], md["signals_blocked"]) == (0, 1)
    assert "gross exposure would be 19,880.00" in md["block_reasons"][0]  # 10,000 open + 52 x 190


def test_open_sells_count_so_overlapping_sells_never_go_short(db, cache, sql_conn, alpaca, t0):
    write_signals(db, sql_conn, t0, [("AAPL", "buy", 0)])
    trade(db, cache, alpaca, t0)
    alpaca.fill = False
    write_signals(db, sql_conn, t0, [("AAPL", "sell", 1)])
    assert meta(trade(db, cache, alpaca, t0))["orders_submitted"] == 1  # the sell of the 52 held, still open
    write_signals(db, sql_conn, t0, [("AAPL", "sell", 2)])
    md = meta(trade(db, cache, alpaca, t0))
    assert (md["orders_submitted"], md["signals_blocked"]) == (0, 1)
    assert "nothing held to sell" in md["block_reasons"][0]


# 6. Orders that never reached the broker --------------------------------------------------------------------

def test_an_order_recorded_but_never_sent_expires_with_an_alert_and_frees_the_days_count(db, cache, sql_conn,
                                                                                          alpaca, t0):
    write_signals(db, sql_conn, t0, [("AAPL", "buy", 0), ("MSFT", "buy", 1)])
    strategy = default_strategy(db)
    crashed = signal_ids(sql_conn)[0]  # its run stopped between recording the order and submitting it
    sql_conn.execute("INSERT INTO orders VALUES (%s, NULL, now(), 'AAPL', 'market', 'buy', 52, NULL, 'pending_new',"
                     " %s, %s, 0, NULL, 0, now())", (order_id(crashed, strategy), crashed, strategy))
    md = meta(trade(db, cache, alpaca, t0, max_orders_per_day=1))
    assert md["orders_submitted"] == 1  # the never-sent order does not count against the day's one order
    assert dict(sql_conn.execute("SELECT symbol, status FROM orders").fetchall()) == {"AAPL": "expired",
                                                                                      "MSFT": "filled"}
    [(severity, message)] = sql_conn.execute("SELECT severity, message FROM alerts WHERE alert_type = 'order_expired'")
    assert severity == "error" and "never sent" in message
    assert "ats-" + uuid.UUID(order_id(crashed, strategy)).hex not in alpaca.by_client_id


def test_a_sent_order_the_broker_never_took_expires_after_the_configured_time(db, cache, sql_conn, alpaca, t0):
    write_signals(db, sql_conn, t0, [("AAPL", "buy", 0)])
    alpaca.unavailable_posts = 2  # the submit and its resend both get 503: the broker never took it
    trade(db, cache, alpaca, t0, pending_expiry_minutes=30)
    assert sql_conn.execute("SELECT status FROM orders").fetchone() == ("pending_new",)  # within its time
    sql_conn.execute("UPDATE order_submissions SET sent_at = now() - interval '31 minutes'")
    trade(db, cache, alpaca, t0, pending_expiry_minutes=30)
    assert sql_conn.execute("SELECT status FROM orders").fetchone() == ("expired",)
    [message] = sql_conn.execute("SELECT message FROM alerts WHERE alert_type = 'order_expired'").fetchone()
    assert "not found at the broker" in message and alpaca.orders == {}
    write_signals(db, sql_conn, t0, [("MSFT", "buy", 1)])
    md = meta(trade(db, cache, alpaca, t0, max_orders_per_day=1))  # the expired order does not use up the day
    assert md["orders_submitted"] == 1 and len(alpaca.orders) == 1


def test_a_stop_set_while_a_run_sends_halts_it_and_withdraws_what_it_did_not_send(db, cache, sql_conn, alpaca):
    write_signals(db, sql_conn, RECORDED, [("AAPL", "buy", 0), ("AAPL", "buy", 1)])
    strategy = default_strategy(db)

    class StopAfterTheFirstSubmit:
        """The Alpaca broker, with an operator's stop landing right after the run's first order went out."""

        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def submit_order(self, request, before_send=None):
            placed = self.inner.submit_order(request, before_send)
            if len(alpaca.orders) == 1:
                trigger_stop(db, cache, None, trigger_type="manual", description="operator", triggered_by="pytest")
            return placed

    def run():
        with alpaca_client(alpaca) as client:
            return place_orders(db, cache, StopAfterTheFirstSubmit(client), strategy_id=strategy,
                                model_name="next_bar_direction_xgb", window=WINDOW, limits=RiskLimits(),
                                now=RECORDED + timedelta(minutes=3))

    report = run()  # both orders recorded in one transaction; the second's stop read finds the stop
    assert (report.submitted, len(alpaca.orders)) == (1, 1) and "emergency stop in force" in report.stopped
    assert sql_conn.execute("SELECT count(*) FROM orders").fetchone()[0] == 1  # the unsent one withdrawn
    resume(db, cache, resolution="checked", resolved_by="pytest")
    assert run().submitted == 1 and len(alpaca.orders) == 2  # its signal was pending again; nothing doubled


class SubmitHook:
    """A broker whose submits go through ``hook(inner, request, before_send)``: faults the broker cannot make."""

    def __init__(self, inner, hook):
        self.inner, self.hook = inner, hook

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def submit_order(self, request, before_send=None):
        return self.hook(self.inner, request, before_send)


WIDE = RiskLimits(max_position_value=1e7, max_gross_exposure=1e8)


def place_wide(db, cache, broker, strategy):
    return place_orders(db, cache, broker, strategy_id=strategy, model_name="next_bar_direction_xgb", window=WINDOW,
                        limits=WIDE, now=RECORDED + timedelta(minutes=8))


def order_states(sql_conn) -> dict[str, int]:
    return dict(sql_conn.execute(
        "SELECT CASE WHEN external_order_id IS NOT NULL THEN 'known' ELSE status END, count(*) FROM orders"
        " GROUP BY 1").fetchall())


def test_an_unexpected_submit_failure_still_writes_every_answer_back_and_withdraws_what_was_never_sent(
        db, cache, sql_conn, alpaca):
    write_signals(db, sql_conn, RECORDED, [("MSFT", "buy", 0), ("AAPL", "buy", 0), ("NVDA", "buy", 0),
                                           ("MSFT", "buy", 1), ("MSFT", "buy", 2)])
    strategy = default_strategy(db)

    def unreadable_msft_answer(inner, request, before_send):
        placed = inner.submit_order(request, before_send)
        if request.symbol == "MSFT":
            raise KeyError("id")  # the broker took it; its answer could not be read
        return placed

    with alpaca_client(alpaca) as client, pytest.raises(KeyError):
        place_wide(db, cache, SubmitHook(client, unreadable_msft_answer), strategy)
    assert len(alpaca.orders) == 3  # AAPL, NVDA and MSFT's first; MSFT's later two never went out
    # The clear answers are written, the order without one stays pending for reconciliation (with an alert),
    # and the two never sent are withdrawn: their signals are pending again.
    assert order_states(sql_conn) == {"known": 2, "pending_new": 1}
    assert sql_conn.execute("SELECT count(*) FROM alerts WHERE alert_type = 'order_uncertain'").fetchone()[0] == 1
    with alpaca_client(alpaca) as client:
        report = place_wide(db, cache, client, strategy)
    assert report.submitted == 2 and len(alpaca.orders) == 5


def test_an_error_streak_triggers_the_stop_even_when_another_thread_fails_unexpectedly(db, cache, sql_conn, alpaca):
    write_signals(db, sql_conn, RECORDED, [("TSLA", "buy", 0), ("AAPL", "buy", 0), ("TSLA", "buy", 1),
                                           ("TSLA", "buy", 2), ("TSLA", "buy", 3)])
    strategy = default_strategy(db)
    alpaca.reject_symbols = {"TSLA"}  # three refusals in a row: the streak

    def slow_then_unreadable_aapl(inner, request, before_send):
        placed = inner.submit_order(request, before_send)
        if request.symbol == "AAPL":
            time.sleep(0.5)
            raise KeyError("id")
        return placed

    with alpaca_client(alpaca) as client, pytest.raises(KeyError):
        place_wide(db, cache, SubmitHook(client, slow_then_unreadable_aapl), strategy)
    assert sql_conn.execute("SELECT count(*) FROM emergency_events WHERE trigger_type = 'broker_errors'"
                            ).fetchone()[0] == 1
    assert sql_conn.execute("SELECT count(*) FROM orders WHERE status = 'rejected'").fetchone()[0] == 3


def test_an_interrupted_run_stops_every_submitting_thread(db, cache, sql_conn, alpaca):
    symbols = ["AAPL", "MSFT", "NVDA", "TSLA"]
    write_signals(db, sql_conn, RECORDED, [(s, "buy", m) for m in range(3) for s in symbols])
    strategy = default_strategy(db)
    main_thread, interrupted = threading.main_thread().ident, threading.Event()

    def interrupt_after_the_first(inner, request, before_send):
        placed = inner.submit_order(request, before_send)
        if not interrupted.is_set():
            interrupted.set()
            signal.pthread_kill(main_thread, signal.SIGINT)  # as a terminated run or Ctrl-C raises
        time.sleep(0.2)
        return placed

    with alpaca_client(alpaca) as client, pytest.raises(KeyboardInterrupt):
        place_wide(db, cache, SubmitHook(client, interrupt_after_the_first), strategy)
    # Each of the four threads had at most its first order in flight; the rest never went out and are withdrawn.
    assert len(alpaca.orders) <= 4
    assert sql_conn.execute("SELECT count(*) FROM orders").fetchone()[0] == len(alpaca.orders)
    assert order_states(sql_conn) == {"known": len(alpaca.orders)}


def test_the_stop_is_read_after_the_rate_limit_wait_right_before_each_send(db, cache, sql_conn, alpaca):
    symbols = ["AAPL", "MSFT", "NVDA", "TSLA"]
    write_signals(db, sql_conn, RECORDED, [(s, "buy", m) for m in range(3) for s in symbols])
    strategy = default_strategy(db)

    class StopLandsDuringTheWait:
        """The key's rate limit (shared with other runs: a wait of any length) during which an operator stops
        trading: the first submit passes, every later one finds the stop set when its wait ends."""

        def __init__(self):
            self.submits, self.lock = 0, threading.Lock()

        def acquire(self) -> float:
            if threading.current_thread().name.startswith("submit"):
                with self.lock:
                    self.submits += 1
                    first = self.submits == 1
                if not first and not sql_conn.execute("SELECT count(*) FROM emergency_events").fetchone()[0]:
                    trigger_stop(db, cache, None, trigger_type="manual", description="operator",
                                 triggered_by="pytest")
            return 0.0

        def pause(self, seconds: float) -> None:
            pass

    with alpaca_client(alpaca) as client:
        client.client.limiter = StopLandsDuringTheWait()
        report = place_wide(db, cache, client, strategy)
    assert "emergency stop in force" in report.stopped
    assert len(alpaca.orders) == 1  # no thread sends on a stop read before its wait
    assert sql_conn.execute("SELECT count(*) FROM orders").fetchone()[0] == 1  # the rest withdrawn


# 4. An unknown stop state -----------------------------------------------------------------------------------

def test_an_unknown_stop_state_fails_the_run_with_an_alert_and_sends_nothing(db, sql_conn, alpaca, t0):
    write_signals(db, sql_conn, t0, [("AAPL", "buy", 0)])
    sql_conn.execute("ALTER TABLE emergency_events RENAME TO emergency_events_away")  # the stop is unreadable
    try:
        result = trade(db, DOWN_REDIS, alpaca, t0, raise_on_error=False)  # and Redis is down
    finally:
        sql_conn.execute("ALTER TABLE emergency_events_away RENAME TO emergency_events")
    assert not result.success and alpaca.orders == {}
    assert sql_conn.execute("SELECT count(*) FROM orders").fetchone()[0] == 0
    assert sql_conn.execute("SELECT alert_type, severity FROM alerts").fetchall() == [
        ("stop_state_unknown", "critical")]


# 5. The same alert again and again --------------------------------------------------------------------------

def test_a_blocked_signal_is_one_alert_however_its_age_grows(db, cache, sql_conn, alpaca):
    write_signals(db, sql_conn, RECORDED, [("AAPL", "buy", 0)])
    strategy = default_strategy(db)
    with alpaca_client(alpaca) as client:
        for minutes in (150, 151):
            report = place_orders(db, cache, client, strategy_id=strategy, model_name="next_bar_direction_xgb",
                                  window=WINDOW, limits=RiskLimits(),
                                  now=RECORDED + timedelta(minutes=minutes))
            age = minutes - 1  # from the end of the signal's 1-minute bar
            assert f"signal is {age} minutes old" in next(iter(report.blocked.values()))
    assert sql_conn.execute("SELECT count(*) FROM alerts WHERE alert_type = 'risk_limit'").fetchone()[0] == 1


def test_a_lasting_loss_condition_stops_once_not_at_every_run(db, cache, sql_conn, alpaca, t0):
    write_signals(db, sql_conn, t0, [("AAPL", "buy", 0)])
    alpaca.last_equity = 103_000.0  # the day lost 3,000 and keeps it lost
    alpaca.fill = False
    with alpaca_client(alpaca) as client:
        client.submit_order(OrderRequest("manual-1", "MSFT", "buy", 1))  # open when the loss stops trading
    for _ in range(2):
        md = meta(trade(db, cache, alpaca, t0, max_daily_loss=2_000))
        assert md["orders_submitted"] == 0
    assert sql_conn.execute("SELECT count(*) FROM emergency_events").fetchone()[0] == 1
    assert sql_conn.execute("SELECT count(*) FROM alerts WHERE alert_type = 'emergency_stop'").fetchone()[0] == 1
    assert alpaca.by_client_id["manual-1"]["status"] == "canceled"
    assert json.loads(cache.get("emergency:status"))["active"] is True


# 10. Day counts and prices ----------------------------------------------------------------------------------

def test_the_daily_order_count_starts_at_midnight_in_new_york(db, cache, sql_conn, alpaca):
    write_signals(db, sql_conn, RECORDED, [("AAPL", "buy", 0)])
    strategy = default_strategy(db)
    # 15:00 New York on March 6 (20:00 UTC): the same trading day as 21:00 New York (02:00 UTC on March 7)
    sql_conn.execute("INSERT INTO orders VALUES (%s, 'x-1', '2024-03-06 20:00+00', 'MSFT', 'market', 'buy', 1, NULL,"
                     " 'canceled', NULL, %s, 0, NULL, 0, now())", (str(uuid.uuid4()), strategy))
    with alpaca_client(alpaca) as client:
        report = place_orders(db, cache, client, strategy_id=strategy, model_name="next_bar_direction_xgb",
                              window=WINDOW, limits=RiskLimits(max_orders_per_day=1),
                              now=datetime(2024, 3, 7, 2, 0, tzinfo=UTC))
    assert report.submitted == 0 and "1 orders today (limit 1)" in next(iter(report.blocked.values()))


@pytest.mark.parametrize("timeframe", ["5m", "15m", "1h"])
def test_signals_on_rolled_up_bars_are_priced_from_their_table(db, cache, sql_conn, alpaca, timeframe, t0):
    model_id = str(uuid.uuid4())
    sql_conn.execute("INSERT INTO models VALUES (%s, 'next_bar_direction_xgb', 'xgboost', 't', '{sig}', '{}',"
                     " '{}', now(), now(), '1', 'active', '/m.ubj')", (model_id,))
    newest = t0 + timedelta(minutes=5)  # the market's newest minute: the rolled-up bar ended with it
    bar = newest + timedelta(minutes=1) - BAR_LENGTH[timeframe]
    sql_conn.execute("INSERT INTO trading_signals VALUES (%s, %s, 'AAPL', 'buy', 0.7, %s, %s, '{}', '{}')",
                     (str(uuid.uuid4()), bar, model_id, timeframe))
    db.write(f"stock_aggs_{timeframe}", pl.DataFrame([{
        "timestamp": bar, "symbol": "AAPL", "adjusted": True, "open": 200.0, "high": 200.0, "low": 200.0,
        "close": 200.0, "volume": 1000.0, "bar_count": 5}]))
    db.write("stock_aggs", pl.DataFrame([{"timestamp": newest, "symbol": "AAPL", "open": 200.0, "high": 200.0,
                                          "low": 200.0, "close": 200.0, "volume": 100, "timeframe": "1m",
                                          "adjusted": True}]))
    md = meta(trade(db, cache, alpaca, bar))
    assert (md["orders_submitted"], md["signals_blocked"]) == (1, 0)
    assert sql_conn.execute("SELECT quantity::float8 FROM orders").fetchone() == (50.0,)  # 10,000 / 200



# 8. The stop's broker ---------------------------------------------------------------------------------------

@pytest.fixture
def cli_env(database_url, cache, alpaca, monkeypatch):
    """The CLI's environment: our databases, and Alpaca paper keys pointing at the fake (as in a .env)."""
    monkeypatch.setenv("ATS_DATABASE_URL", database_url)
    monkeypatch.setenv("ATS_REDIS_URL", cache.url)
    monkeypatch.setenv("ALPACA_BASE_URL", alpaca.base_url)
    with alpaca_client(alpaca) as client:
        client.submit_order(OrderRequest("held-1", "AAPL", "buy", 10))  # the Alpaca account holds AAPL
    return monkeypatch


@pytest.mark.parametrize("chosen", ["simulated", "alpaca"])
def test_the_cli_stop_cancels_and_liquidates_only_at_the_broker_ats_broker_chooses(db, sql_conn, alpaca, cli_env,
                                                                                   chosen):
    cli_env.setenv("ATS_BROKER", chosen)
    strategy = default_strategy(db)
    filled, waiting = str(uuid.uuid4()), str(uuid.uuid4())  # the simulated book: 10 MSFT held, an AAPL buy open
    sql_conn.execute("INSERT INTO orders VALUES (%s, 'sim-1', now(), 'MSFT', 'market', 'buy', 10, NULL, 'filled',"
                     " NULL, %s, 10, 400, 0.05, now()), (%s, 'sim-2', now(), 'AAPL', 'market', 'buy', 5, NULL,"
                     " 'accepted', NULL, %s, 0, NULL, 0, now())", (filled, strategy, waiting, strategy))
    result = CliRunner().invoke(main, ["emergency-stop", "--reason", "test", "--liquidate"])
    assert result.exit_code == 0, result.output
    assert f"{chosen} broker: 1 account(s)" in result.output
    liquidations = [o for o in alpaca.orders.values() if o["client_order_id"].startswith("liquidate-")]
    recorded = sql_conn.execute("SELECT symbol, side, quantity::float8 FROM orders WHERE order_id NOT IN (%s, %s)",
                                (filled, waiting)).fetchall()
    status = sql_conn.execute("SELECT status FROM orders WHERE order_id = %s", (waiting,)).fetchone()[0]
    if chosen == "simulated":  # the Alpaca account is left alone; the strategy's book is canceled and closed
        assert liquidations == [] and "AAPL" in alpaca.positions
        assert status == "canceled" and recorded == [("MSFT", "sell", 10.0)]
    else:
        assert [(o["symbol"], o["side"]) for o in liquidations] == [("AAPL", "sell")]
        assert status == "accepted" and recorded == []
    assert sql_conn.execute("SELECT positions_closed FROM emergency_events").fetchone() == (1,)


# 9. Strategies ----------------------------------------------------------------------------------------------

def add_strategy(sql_conn, name: str, status: str = "active", **parameters) -> str:
    strategy = str(uuid.uuid4())
    sql_conn.execute("INSERT INTO strategies (strategy_id, name, model_name, parameters, status) VALUES"
                     " (%s, %s, 'next_bar_direction_xgb', %s, %s)",
                     (strategy, name, json.dumps(parameters), status))
    return strategy


def test_a_paused_strategy_places_nothing(db, cache, sql_conn, alpaca, t0):
    write_signals(db, sql_conn, t0, [("AAPL", "buy", 0)])
    trade(db, cache, alpaca, t0, strategy="default")  # created on first use ...
    write_signals(db, sql_conn, t0, [("MSFT", "buy", 1)])
    sql_conn.execute("UPDATE strategies SET status = 'paused'")  # ... then paused
    md = meta(trade(db, cache, alpaca, t0))
    assert md["orders_submitted"] == 0 and len(alpaca.orders) == 1


def test_the_stored_parameters_are_the_truth_and_a_run_changes_only_what_it_names(db, cache, sql_conn, alpaca, t0):
    write_signals(db, sql_conn, t0, [("AAPL", "buy", 0)])
    trade(db, cache, alpaca, t0, max_position_value=20_000)
    trade(db, cache, alpaca, t0, max_daily_loss=5_000)  # names another parameter only
    trade(db, cache, alpaca, t0)
    [parameters] = sql_conn.execute("SELECT parameters FROM strategies").fetchone()
    assert (parameters["max_position_value"], parameters["max_daily_loss"]) == (20_000, 5_000)


def test_every_active_strategy_trades_with_its_own_positions(db, cache, sql_conn, alpaca, t0):
    write_signals(db, sql_conn, t0, [("AAPL", "buy", 0)])
    trade(db, cache, alpaca, t0)  # creates "default"
    momentum = add_strategy(sql_conn, "momentum", notional_per_signal=5_000)
    add_strategy(sql_conn, "resting", status="retired")
    md = meta(trade(db, cache, alpaca, t0))  # a second run: "default" has its order, "momentum" trades now
    assert md["orders_submitted"] == 1 and len(alpaca.orders) == 2
    assert alpaca.positions["AAPL"]["qty"] == "78"  # the shared Alpaca account: 52 + 26
    held = dict(sql_conn.execute("SELECT s.name, p.quantity::float8 FROM positions AS p JOIN strategies AS s"
                                 " USING (strategy_id) WHERE p.status = 'open'").fetchall())
    assert held == {"default": 52.0, "momentum": 26.0}  # each strategy's own, never the account's 78
    assert sql_conn.execute("SELECT count(*) FROM orders WHERE strategy_id = %s", (momentum,)).fetchone()[0] == 1


def test_the_cli_stop_holds_even_when_the_chosen_broker_refuses_it(db, sql_conn, cli_env):
    cli_env.setenv("ATS_BROKER", "alpaca")
    cli_env.setenv("ALPACA_API_SECRET_KEY", "revoked")  # the broker answers 401 to everything
    result = CliRunner().invoke(main, ["emergency-stop", "--reason", "broker down"])
    assert result.exit_code != 0  # the broker part failed, loudly ...
    assert sql_conn.execute("SELECT description FROM emergency_events WHERE resolution_time IS NULL").fetchall() == [
        ("broker down",)]  # ... and the stop is in force regardless
