"""Unusual Whales flow alerts: string numbers, missing fields, bad types and the derived columns."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import dagster as dg
import pytest

from ats_pipelines.defs.options_flow.assets import unusual_whales_options
from ats_pipelines.defs.options_flow.schedules import flow_alerts_schedule
from ats_pipelines.fakes.unusual_whales_server import synthetic_alert
from ats_pipelines.market_calendar import NEW_YORK as ZONE
from ats_pipelines.resources import UnusualWhalesResource

NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def run(db, server, api_key: str = "demo-key"):
    resources = {"timescale": db, "unusual_whales": UnusualWhalesResource(
        api_key=api_key, base_url=server.base_url, backoff_seconds=0.01, requests_per_minute=6000)}
    result = dg.materialize([unusual_whales_options], resources=resources, instance=dg.DagsterInstance.ephemeral(),
                            raise_on_error=False)
    events = result.get_asset_materialization_events()
    return result, ({k: v.value for k, v in events[0].materialization.metadata.items()} if events else {})


@pytest.mark.parametrize(("option_type", "ask_share", "premium_type", "sentiment"), [
    ("call", 0.85, "debit", "bullish"),   # calls bought on the ask
    ("call", 0.10, "credit", "bearish"),  # calls sold on the bid
    ("put", 0.90, "debit", "bearish"),    # puts bought on the ask
    ("put", 0.20, "credit", "bullish"),   # puts sold on the bid
    ("call", 0.50, "mixed", "neutral"),   # neither side dominates
])
def test_derived_columns_follow_the_side_of_the_trade(db, sql_conn, fake_unusual_whales, option_type, ask_share,
                                                      premium_type, sentiment):
    alert = synthetic_alert("AAPL", NOW, option_type, ask_share, index=1)
    fake_unusual_whales.alerts = [alert]
    _, metadata = run(db, fake_unusual_whales)
    assert metadata["rows_inserted"] == 1
    row = sql_conn.execute(
        "SELECT symbol, underlying, option_type, expiration, strike, premium, premium_type, sentiment,"
        " days_to_expiration, trade_type, alert_id, volume_oi_ratio, underlying_price FROM unusual_whales_options"
    ).fetchone()
    expiry = date.fromisoformat(alert["expiry"])
    assert row[:5] == ("O:" + alert["option_chain"], "AAPL", option_type[0].upper(), expiry,
                       Decimal(alert["strike"]).quantize(Decimal("0.000001")))
    assert row[5] == Decimal(alert["total_premium"]).quantize(Decimal("0.000001"))
    assert (row[6], row[7]) == (premium_type, sentiment)
    assert row[8] == (expiry - NOW.astimezone(ZONE).date()).days
    assert row[9] == "single" and row[10] == alert["id"]  # index 1: no sweep, no floor
    assert row[11] == Decimal(alert["volume_oi_ratio"]).quantize(Decimal("0.000001"))
    assert row[12] == Decimal(alert["underlying_price"]).quantize(Decimal("0.000001"))


def test_bad_alerts_are_rejected_with_reasons_and_good_ones_land_once(db, sql_conn, fake_unusual_whales):
    good = [synthetic_alert("MSFT", NOW - timedelta(minutes=i), "call", 0.8, index=i) for i in range(4)]
    no_id_no_iv = {k: v for k, v in synthetic_alert("NVDA", NOW, "put", 0.3, index=5).items()
                   if k not in ("id", "iv_end", "sector")}
    older_format = {**no_id_no_iv, "created_at": NOW.strftime("%Y-%m-%d %H:%M:%S.%f+00:00")}
    straddle = {**synthetic_alert("AMD", NOW, "call", 0.8, index=6), "type": "straddle"}
    unreadable = {**synthetic_alert("AMD", NOW - timedelta(minutes=9), "put", 0.8, index=7), "total_premium": "n/a"}
    mismatched = {**synthetic_alert("AMD", NOW - timedelta(minutes=8), "put", 0.8, index=8), "type": "call"}
    fake_unusual_whales.alerts = [*good, older_format, straddle, unreadable, mismatched, "not an alert"]
    _, metadata = run(db, fake_unusual_whales)
    assert (metadata["rows_inserted"], metadata["rows_rejected"]) == (5, 3)
    assert metadata["reject_reasons"] == {"unknown option type (expected call or put)": 1,
                                          "unreadable 'total_premium'": 1, "type disagrees with option_chain": 1}
    derived = sql_conn.execute("SELECT alert_id, implied_volatility, sector FROM unusual_whales_options"
                               " WHERE underlying = 'NVDA'").fetchone()
    assert derived[0].startswith("uw-") and derived[1] is None and derived[2] is None
    raw = sql_conn.execute("SELECT alert FROM unusual_whales_raw_alerts WHERE alert_id = %s", (derived[0],)
                           ).fetchone()[0]
    assert raw["total_premium"] == older_format["total_premium"] and raw["created_at"] == older_format["created_at"]
    quarantined = sql_conn.execute("SELECT reason FROM ingest_rejects WHERE table_name = 'unusual_whales_options'"
                                   " ORDER BY reason").fetchall()
    assert len(quarantined) == 3

    _, again = run(db, fake_unusual_whales)  # the same alerts again: nothing new, nothing duplicated
    assert (again["rows_inserted"], again["rows_updated"]) == (0, 0)
    assert sql_conn.execute("SELECT count(*) FROM unusual_whales_options").fetchone()[0] == 5
    assert sql_conn.execute("SELECT count(*) FROM unusual_whales_raw_alerts").fetchone()[0] == 5
    assert sql_conn.execute("SELECT count(*) FROM ingest_rejects").fetchone()[0] == 3


def test_a_full_page_is_followed_by_older_pages(db, sql_conn, fake_unusual_whales):
    fake_unusual_whales.alerts = [synthetic_alert("SPY", NOW - timedelta(seconds=5 * i), "call", 0.7, index=i)
                                  for i in range(450)]
    _, metadata = run(db, fake_unusual_whales)
    assert (metadata["pages"], metadata["api_requests"], metadata["rows_inserted"]) == (3, 3, 450)


def test_a_bad_token_fails_with_a_clear_message(db, sql_conn, fake_unusual_whales):
    result, _ = run(db, fake_unusual_whales, api_key="uw-secret-token")
    error = result.get_step_failure_events()[0].step_failure_data.error.cause
    assert error.cls_name == "ApiAuthError" and "HTTP 401" in error.message
    assert "uw-secret-token" not in error.message
    assert sql_conn.execute("SELECT count(*) FROM flow_ingest_coverage").fetchone()[0] == 0  # nothing covered


def test_successful_runs_record_the_time_they_covered_as_one_island(db, sql_conn, fake_unusual_whales):
    fake_unusual_whales.alerts = [synthetic_alert("SPY", NOW - timedelta(minutes=i), "call", 0.7, index=i)
                                  for i in range(3)]
    before = datetime.now(UTC)
    run(db, fake_unusual_whales)
    run(db, fake_unusual_whales)  # starts 5 minutes before the newest alert: inside the first run's range
    [(covered_from, covered_to)] = sql_conn.execute("SELECT covered_from, covered_to FROM flow_ingest_coverage")
    assert covered_from < before - timedelta(hours=23) and before <= covered_to <= datetime.now(UTC)
    assert covered_to - covered_from >= timedelta(hours=24)  # the first run's look-back, then the second run


def test_flow_alerts_run_every_minute_of_the_session_only():
    def at(text: str):
        context = dg.build_schedule_context(scheduled_execution_time=datetime.fromisoformat(text))
        return flow_alerts_schedule(context)

    assert isinstance(at("2024-03-11T13:30:00+00:00"), dg.RunRequest)   # 09:30 EDT, the open
    assert isinstance(at("2024-03-11T20:15:00+00:00"), dg.RunRequest)   # 16:15 EDT
    assert isinstance(at("2024-03-11T13:29:00+00:00"), dg.SkipReason)   # 09:29
    assert isinstance(at("2024-11-29T18:30:00+00:00"), dg.SkipReason)   # 13:30 after the 13:00 early close
    assert isinstance(at("2024-12-25T15:00:00+00:00"), dg.SkipReason)   # Christmas
