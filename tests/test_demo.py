"""The README's main command as a newcomer meets it: `ats demo --no-ui` materializes every asset, trades the
first hour of a replayed session live (the fake feed, `ats stream`, `ats live`) and prints the summary; then
the Dagster UI, started on the demo's instance, is driven in headless Chromium (Debian's package, no browser
download): the asset graph, every table's asset with its latest materialization, the features asset's
automation condition, one run. Screenshots land in test-output/ui/."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import httpx
import psycopg
import pytest
import redis
from dagster._core.instance.ref import InstanceRef
from psycopg import sql

from ats_pipelines.demo import DEMO_RANGE, LIVE_SESSION
from ats_pipelines.market_calendar import sessions
from ats_pipelines.settings import database_name, with_database
from tests.conftest import TEST_DATABASE_URL, free_port, recreate_database

DEMO_DB_URL = with_database(TEST_DATABASE_URL, database_name(TEST_DATABASE_URL) + "_demo")  # beside the test db
DEMO_REDIS_URL = os.environ.get("ATS_TEST_DEMO_REDIS_URL", "redis://127.0.0.1:6379/14")
SCREENSHOTS = Path(__file__).parent.parent / "test-output" / "ui"
CHROMIUM = "/usr/bin/chromium"
SESSIONS = len(sessions(*(date.fromisoformat(d) for d in DEMO_RANGE)))


@dataclass(frozen=True)
class Demo:
    stdout: str
    dagster_home: Path
    env: dict[str, str]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Demo:
    """One `ats demo --no-ui` (two symbols, the demo's 20 sessions, its own database, Redis db and instance)."""
    home = tmp_path_factory.mktemp("dagster_home")
    recreate_database(DEMO_DB_URL)
    redis.Redis.from_url(DEMO_REDIS_URL).flushdb()  # its own Redis database: no state from other runs
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLYGON_", "ATS_", "DAGSTER_", "ALPACA_",
                                                                       "UNUSUAL_WHALES_"))}
    env.update(ATS_DATABASE_URL=DEMO_DB_URL, DAGSTER_HOME=str(home), ATS_UNIVERSE="AAPL,SPY",
               ATS_TICK_UNIVERSE="SPY", ATS_OPTION_MONEYNESS="0.01", ATS_OPTION_EXPIRY_DAYS="0",
               ATS_MODEL_DIR=str(home / "models"), ATS_REDIS_URL=DEMO_REDIS_URL, COLUMNS="160")
    result = subprocess.run([sys.executable, "-m", "ats_pipelines.cli", "demo", "--no-ui", "--port", "8791"],
                            env=env, capture_output=True, text=True, timeout=600, cwd=home)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return Demo(result.stdout, home, env)


def test_the_demo_materializes_every_asset_and_prints_the_summary(demo):
    out = demo.stdout
    assert "no POLYGON_API_KEY, serving offline data" in out
    assert "plain PostgreSQL mode" in out or "TimescaleDB mode" in out
    assert "FAILED" not in out and out.count("ok ") >= 8
    assert "rows in the database" in out and "promoted (active)" in out and "P&L" in out
    assert "DEBUG" not in out and "STEP_SUCCESS" not in out  # Dagster's chatter went to the log file
    assert "STEP_SUCCESS" in (demo.dagster_home / "var" / "log" / "demo.log").read_text()
    from ats_pipelines.definitions import defs

    instance = dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(demo.dagster_home)))
    keys = defs.resolve_asset_graph().get_all_asset_keys()
    never = [k.to_user_string() for k in keys if instance.get_latest_materialization_event(k) is None]
    assert len(keys) == 27 and never == []
    with psycopg.connect(DEMO_DB_URL) as conn:
        regular = dict(conn.execute(
            "SELECT symbol, count(*) FROM stock_aggs WHERE timeframe = '1m' AND adjusted"
            " AND (timestamp AT TIME ZONE 'America/New_York')::time BETWEEN '09:30' AND '15:59'"
            " AND timestamp::date <= %s GROUP BY 1", (DEMO_RANGE[1],)))
        rollups, hours = conn.execute(
            "SELECT (SELECT count(*) FROM stock_aggs_1h), count(DISTINCT (symbol, date_trunc('hour', timestamp)))"
            " FROM stock_aggs WHERE timeframe = '1m' AND timestamp::date <= %s", (DEMO_RANGE[1],)).fetchone()
        tables = [t for t, in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        empty = [t for t in tables if not conn.execute(
            sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(t))).fetchone()[0]]
        runs = conn.execute("SELECT status FROM model_training_runs").fetchall()
        model = conn.execute("SELECT status, (metrics -> 'held_out' ->> 'auc')::float8 FROM models").fetchall()
        orders = dict(conn.execute(
            "SELECT s.timestamp::date = %s, count(*) FROM orders o JOIN trading_signals s USING (signal_id)"
            " WHERE o.status = 'filled' GROUP BY 1", (LIVE_SESSION,)).fetchall())
        live_bars = conn.execute("SELECT count(*) FROM stock_aggs WHERE timeframe = '1m' AND adjusted AND"
                                 " timestamp::date = %s", (LIVE_SESSION,)).fetchone()[0]
        blocked = dict(conn.execute("SELECT metadata ->> 'rule', count(*) FROM alerts WHERE alert_type = 'risk_limit'"
                                    " GROUP BY 1").fetchall())
        held = conn.execute("SELECT count(*) FROM positions WHERE status = 'open' AND quantity > 0").fetchone()[0]
        equity = conn.execute("SELECT count(*) FROM trading_metrics WHERE metric_name = 'equity'"
                              " AND timestamp::date = %s", (LIVE_SESSION,)).fetchone()[0]
    assert SESSIONS == 20 and regular == {"AAPL": regular["AAPL"], "SPY": SESSIONS * 390}
    # Every hour of the demo range with a 1m bar, extended hours included (the live session's bars came after the
    # roll-up run: their hours roll up at its next run).
    assert rollups == hours > 2 * SESSIONS * 7
    # No bad records, no stop, no live stream without the UI: every other table has rows.
    assert set(empty) <= {"ingest_rejects", "emergency_events", "stream_bar_watermarks"}
    # The fake market's minute returns carry a little momentum: the model finds it and is promoted
    assert runs == [("completed",)] and len(model) == 1 and model[0][0] == "active" and model[0][1] > 0.55
    # Under the default limits the stored signals of the demo range are too old to trade: each is blocked with
    # its reason; every filled order is the live stage's, on the replayed session, and shows as a position.
    assert blocked.get("signal_age", 0) > 0 and orders.get(False) is None and orders.get(True, 0) > 0
    assert held > 0 and equity >= 50 and live_bars > 0
    assert "live: ats live on 2024-03-12" in out and "signal_age" in out


def test_the_ui_shows_the_graph_every_asset_materialized_and_a_run(demo):
    """Headless Chromium against dagster-webserver on the demo's instance; screenshots in test-output/ui/."""
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: scripts/bootstrap.sh installs it"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    from ats_pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    assets = sorted(k.to_user_string() for k in graph.get_all_asset_keys())
    condition_label = graph.get(dg.AssetKey("features")).automation_condition.get_label()
    assert condition_label
    with webserver(demo) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1800, "height": 1800})
        page.goto(f"{url}/asset-groups", wait_until="networkidle")
        page.get_by_text("market_data", exact=True).last.wait_for()  # the collapsed graph is drawn
        page.mouse.click(1700, 1500)  # focus the graph's background
        page.keyboard.press("Alt+e")  # "Expand all groups" (its context menu names the shortcut)
        for group in ("market_data", "reference", "options_flow", "features", "models", "trading", "monitoring",
                      "cache"):
            page.get_by_text(group, exact=True).last.wait_for()
        page.get_by_text("trading_signals", exact=True).last.wait_for()
        page.wait_for_timeout(500)
        page.screenshot(path=SCREENSHOTS / "asset_graph.png")

        latest = {}
        for asset in assets:
            page.goto(f"{url}/assets/{asset}", wait_until="networkidle")
            status = page.get_by_text("Latest materialization", exact=True).first
            status.wait_for()
            section = page.locator("body").inner_text()
            latest[asset] = re.search(r"Latest materialization\s*\n\s*(.+)", section)[1]
            if asset == "features":  # its automation condition, by its label, in the asset's overview
                page.get_by_text("Automation condition", exact=True).first.wait_for()
                page.get_by_text(condition_label, exact=True).first.wait_for()
                page.screenshot(path=SCREENSHOTS / "asset_features_automation.png")
            if asset == "stock_aggs":
                page.screenshot(path=SCREENSHOTS / "asset_stock_aggs.png")
                run_link = page.locator("a[href*='/runs/']").first.get_attribute("href")
        assert not [a for a, when in latest.items() if "ago" not in when], latest

        page.goto(url + run_link, wait_until="networkidle")  # the run of stock_aggs' latest materialization
        assert re.search(r"/runs/[0-9a-f-]{36}", page.url), page.url
        page.get_by_text("Success", exact=True).first.wait_for()
        page.get_by_text("ASSET_MATERIALIZATION").first.wait_for()  # its event log, at the step of stock_aggs
        page.screenshot(path=SCREENSHOTS / "run.png")
        browser.close()
    for name in ("asset_graph.png", "asset_stock_aggs.png", "asset_features_automation.png", "run.png"):
        assert (SCREENSHOTS / name).stat().st_size > 20_000, name


@contextmanager
def webserver(demo: Demo) -> Iterator[str]:
    """dagster-webserver on a free port over the demo's instance; yields its URL."""
    port = free_port()
    nux = demo.dagster_home / ".nux" / "nux.yaml"  # the first visit's community dialog: seen, as if skipped
    nux.parent.mkdir(exist_ok=True)
    nux.write_text("seen: 1\n")
    with open(demo.dagster_home / "webserver.log", "w") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("dagster-webserver")), "-m", "ats_pipelines.definitions",
             "-h", "127.0.0.1", "-p", str(port)], env=demo.env, cwd=Path(__file__).parent.parent,
            stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and process.poll() is None:
                try:
                    if httpx.get(f"{url}/server_info", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            else:
                raise AssertionError((demo.dagster_home / "webserver.log").read_text()[-3000:])
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)
