"""Training, the model registry's promotion gate, and trading signals, against the real PostgreSQL.

Bars and features are written directly: a synthetic market where the feature ``sig`` at t predicts the
sign of the next bar's return (a planted signal) and ``noise`` predicts nothing.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import numpy as np
import polars as pl
import psycopg
import pytest
import xgboost as xgb

from ats_pipelines.defs.features.versions import record_versions
from ats_pipelines.defs.models import registry, training
from ats_pipelines.defs.models.assets import trading_signals, train_model_assets
from ats_pipelines.defs.models.dataset import DatasetError, labelled, walk_forward
from ats_pipelines.defs.models.run import MINUTE_MODEL, TrainingConfig, training_start
from ats_pipelines.defs.models.training import (
    FitCancelled,
    StopWhenSet,
    metrics,
    predict,
    side_by_side,
    train_walk_forward,
)
from ats_pipelines.market_calendar import sessions
from ats_pipelines.resources import ModelIntegrityError, ModelStoreResource
from tests.conftest import checks, metadata, run

T0 = datetime(2024, 3, 4, tzinfo=UTC)
SYMBOLS = [f"S{i}" for i in range(10)]
BARS = 2_000


def session_minutes(count: int) -> list[datetime]:
    """The first ``count`` regular-session minutes from T0 (models learn from regular-session bars only)."""
    minutes = (s.open + timedelta(minutes=i) for s in sessions(T0.date(), T0.date() + timedelta(days=30))
               for i in range(s.minutes))
    return [t for t, _ in zip(minutes, range(count), strict=False)]


def plant(db, beta: float, seed: int = 1) -> None:
    """1m bars and features of SYMBOLS: next return = beta * sig + noise (beta 0: pure noise)."""
    rng = np.random.default_rng(seed)
    times = session_minutes(BARS)
    bars, feats = [], []
    for symbol in SYMBOLS:
        sig, noise = rng.normal(0, 1, BARS), rng.normal(0, 1, BARS)
        ret = np.concatenate([[0.0], beta * sig[:-1] + rng.normal(0, 1, BARS - 1)]) * 0.001
        close = 100 * np.exp(np.cumsum(ret))
        bars.append(pl.DataFrame({"timestamp": times, "symbol": symbol, "open": close, "high": close * 1.001,
                                  "low": close * 0.999, "close": close, "volume": 1000, "timeframe": "1m",
                                  "adjusted": True}))
        for name, values in (("sig", sig), ("weak", sig + rng.normal(0, 3, BARS)), ("noise", noise)):
            feats.append(pl.DataFrame({"timestamp": times, "symbol": symbol, "feature_name": name,
                                       "feature_value": values, "timeframe": "1m", "feature_group": "momentum"}))
    db.write("stock_aggs", pl.concat(bars))
    db.write("features", pl.concat(feats))
    define_planted(db, {"sig": "planted-1", "weak": "planted-1", "noise": "planted-1"},
                   (times[0], times[-1] + timedelta(days=1)))


def define_planted(db, versions: dict[str, str], window: tuple[datetime, datetime]) -> None:
    """Register the planted features' definitions and record their versions on the days written, as the
    features asset does for its own."""
    for name, version in versions.items():
        db.execute("INSERT INTO feature_metadata (feature_name, description, formula, created_at, updated_at,"
                   " version) VALUES (%(name)s, 'planted', 'planted', now(), now(), %(version)s)"
                   " ON CONFLICT (feature_name) DO UPDATE SET version = EXCLUDED.version",
                   {"name": name, "version": version})
    record_versions(db, "1m", versions, window)


@pytest.fixture
def store(tmp_path) -> ModelStoreResource:
    return ModelStoreResource(directory=str(tmp_path / "models"))


def train(db, store, features=("sig", "noise"), raise_on_error=True, **config):
    return dg.materialize([train_model_assets], resources={"timescale": db, "model_store": store},
                          instance=dg.DagsterInstance.ephemeral(), raise_on_error=raise_on_error,
                          run_config={"ops": {"train_model": {"config": {"features": list(features), **config}}}})


def models(sql_conn) -> list[tuple]:
    return sql_conn.execute("SELECT version, status, features, metrics, parameters, file_path FROM models"
                            " ORDER BY version::int").fetchall()


def test_a_planted_signal_is_found_and_promoted_and_the_file_reproduces_its_metrics(db, sql_conn, store):
    plant(db, beta=0.5)
    result = train(db, store)
    [(version, status, features, model_metrics, parameters, path)] = models(sql_conn)
    assert (version, status, features) == ("1", "active", ["sig", "noise"])
    held_out = model_metrics["held_out"]
    assert held_out["auc"] > 0.6 and model_metrics["promotion"]["decision"] == "active"
    assert len(model_metrics["folds"]) == 4 and all(f["auc"] > 0.55 for f in model_metrics["folds"])
    assert model_metrics["feature_importance"]["sig"] > model_metrics["feature_importance"]["noise"]
    run_row = sql_conn.execute("SELECT status, end_time IS NOT NULL, metrics, logs, model_id::text FROM"
                               " model_training_runs").fetchone()
    assert run_row[0:2] == ("completed", True) and run_row[2]["held_out"] == held_out and "fold_4" in run_row[3]
    assert checks(result) == {"models_have_metrics": True}
    md = metadata(result, "models")
    assert md["status"] == "active" and "| held_out |" in md["fold_metrics"] and "| sig |" in md["feature_importance"]
    # The file, verified by its checksum, reproduces the recorded held-out metrics on rows rebuilt from the database.
    booster = store.load(path, parameters["file"]["sha256"])
    data = parameters["training_data"]
    rows = labelled(db, "1m", ["sig", "noise"], datetime.fromisoformat(data["held_out_start"])).filter(
        pl.col("timestamp") <= datetime.fromisoformat(data["held_out_end"]))  # an end would bound the labels too
    again = metrics(rows["label"].to_numpy(), predict(booster, rows, ["sig", "noise"]), 0.6)
    assert again["rows"] == held_out["rows"] and again["auc"] == pytest.approx(held_out["auc"], abs=1e-6)
    assert again["log_loss"] == pytest.approx(held_out["log_loss"], abs=1e-6)


def test_pure_noise_is_not_promoted(db, sql_conn, store):
    plant(db, beta=0.0, seed=2)
    train(db, store)
    [(version, status, _, model_metrics, _, path)] = models(sql_conn)
    assert status == "rejected" and abs(model_metrics["held_out"]["auc"] - 0.5) < 0.02
    assert "below chance" in model_metrics["promotion"]["reason"]
    assert sql_conn.execute("SELECT count(*) FROM models WHERE status = 'active'").fetchone()[0] == 0


def test_a_better_model_retires_the_active_one_and_a_worse_one_is_rejected(db, sql_conn, store):
    plant(db, beta=0.5)
    train(db, store, features=("weak", "noise"))
    train(db, store, features=("sig", "noise"))
    train(db, store, features=("weak",))
    rows = models(sql_conn)
    assert [(v, s) for v, s, *_ in rows] == [("1", "retired"), ("2", "active"), ("3", "rejected")]
    second, third = rows[1][3], rows[2][3]
    assert second["held_out"]["auc"] > rows[0][3]["held_out"]["auc"] + 0.005
    assert second["promotion"]["active_model_auc"] == pytest.approx(rows[0][3]["held_out"]["auc"], abs=1e-6)
    assert third["promotion"]["active_model_auc"] == pytest.approx(second["held_out"]["auc"], abs=1e-6)


def test_the_database_allows_one_active_model_per_name(db, sql_conn, store):
    plant(db, beta=0.5)
    train(db, store)
    with pytest.raises(psycopg.errors.UniqueViolation):
        sql_conn.execute("INSERT INTO models SELECT gen_random_uuid(), model_name, model_type, target, features,"
                         " parameters, metrics, created_at, trained_at, '99', 'active', file_path FROM models")


def test_a_failed_training_leaves_a_failed_run_and_the_active_model_unchanged(db, sql_conn, store):
    plant(db, beta=0.5)
    train(db, store)
    before = models(sql_conn)
    result = train(db, store, timeframe="1d", raise_on_error=False)
    assert not result.success
    failed = sql_conn.execute("SELECT status, model_id, end_time IS NOT NULL, logs FROM model_training_runs"
                              " WHERE status <> 'completed'").fetchall()
    assert len(failed) == 1 and failed[0][:3] == ("failed", None, True)
    assert "DatasetError" in failed[0][3] and "no labelled rows" in failed[0][3]
    assert models(sql_conn) == before


def test_no_test_window_row_is_in_its_training_window():
    times = pl.Series([T0 + timedelta(minutes=i // 3) for i in range(3 * 1_000)])  # three symbols a minute
    splits = walk_forward(times, folds=4, gap_bars=10, held_out_fraction=0.2)
    assert [s.name for s in splits] == ["fold_1", "fold_2", "fold_3", "fold_4", "held_out"]
    for split in splits:
        train_times, test_times = times[split.train], times[split.test]
        assert split.train.start == 0 and split.train.stop < split.test.start
        assert train_times.max() + timedelta(minutes=10) < test_times.min()  # a gap of 10 bar times
    assert (splits[-1].test.start, splits[-1].test.stop) == (3 * 800, len(times))  # the last fifth is held out
    with pytest.raises(DatasetError):
        walk_forward(times[:60], folds=4, gap_bars=10, held_out_fraction=0.2)


def planted_frame(rows_per_symbol: int = 600) -> pl.DataFrame:
    """An in-memory dataset as ``labelled`` returns it: the label follows ``sig``, ``noise`` is noise."""
    rng = np.random.default_rng(3)
    times = [T0 + timedelta(minutes=i) for i in range(rows_per_symbol)]
    frames = []
    for symbol in SYMBOLS[:3]:
        sig = rng.normal(0, 1, rows_per_symbol)
        frames.append(pl.DataFrame({"symbol": symbol, "timestamp": times, "sig": sig,
                                    "noise": rng.normal(0, 1, rows_per_symbol),
                                    "label": (sig + rng.normal(0, 1, rows_per_symbol) > 0).astype(np.int8)}))
    return pl.concat(frames).sort("timestamp", "symbol")


def test_the_folds_train_side_by_side_and_give_the_same_models_at_any_thread_count():
    data = planted_frame()
    splits = walk_forward(data["timestamp"], folds=4, gap_bars=10, held_out_fraction=0.2)
    params = {**TrainingConfig().xgboost_params()}
    trained = {}
    for nthread in (1, 2, 3, 10):  # one fit at a time, two and three at once, all five with two threads each
        log: list[str] = []
        results = train_walk_forward(data, ["sig", "noise"], splits, {**params, "nthread": nthread}, 30, 0.6, log)
        assert [r.name for r in results] == [s.name for s in splits]  # in the splits' order, whatever finished first
        assert [line.split(":")[0] for line in log] == [s.name for s in splits]
        assert results[-1].booster is not None and all(r.booster is None for r in results[:-1])
        assert results[-1].metrics["auc"] > 0.7  # the planted signal is learned
        trained[nthread] = results
    held_out = data[splits[-1].test]
    one_by_one = xgb.train({**params, "nthread": 1}, xgb.DMatrix(  # the plain way: a DMatrix, one thread
        data[splits[-1].train].select("sig", "noise").to_numpy(), label=data[splits[-1].train]["label"].to_numpy()),
        num_boost_round=30)
    for results in (trained[2], trained[3], trained[10]):
        assert [r.metrics for r in results] == [r.metrics for r in trained[1]]
        assert np.array_equal(predict(results[-1].booster, held_out, ["sig", "noise"]),
                              predict(trained[1][-1].booster, held_out, ["sig", "noise"]))
    assert np.allclose(predict(trained[1][-1].booster, held_out, ["sig", "noise"]),
                       one_by_one.inplace_predict(held_out.select("sig", "noise").to_numpy()), atol=1e-6)


@pytest.mark.parametrize(("nthread", "at_once", "threads"), [
    (1, 1, [1, 1, 1, 1, 1]), (2, 2, [1, 1, 1, 1, 1]), (7, 5, [2, 2, 1, 1, 1]), (10, 5, [2, 2, 2, 2, 2])])
def test_side_by_side_runs_as_many_fits_at_once_as_threads_largest_first(nthread, at_once, threads):
    sizes = [30, 10, 50, 20, 40]  # largest first: 2, 4, 0, 3, 1
    together = threading.Barrier(at_once, timeout=30)  # breaks (and fails the fit) unless at_once fits meet
    lock, running, calls = threading.Lock(), [0], []

    def fit(index, given, cancelled):
        with lock:
            running[0] += 1
            calls.append((index, given, running[0]))
            first_wave = len(calls) <= at_once
        if first_wave:
            together.wait()
        with lock:
            running[0] -= 1
        return index * 100

    assert side_by_side(sizes, nthread, fit) == [0, 100, 200, 300, 400]  # in the jobs' order
    assert {index for index, _, _ in calls[:at_once]} == set([2, 4, 0, 3, 1][:at_once])
    assert max(n for _, _, n in calls) == at_once  # never more at once than the threads allow
    assert [given for _, given, _ in sorted(calls, key=lambda c: -sizes[c[0]])] == threads  # extras to the largest
    if at_once == 1:
        assert [index for index, _, _ in calls] == [2, 4, 0, 3, 1]


def test_a_failed_fit_stops_the_others_and_its_error_is_raised():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(2_000, 4)), rng.integers(0, 2, 2_000)
    long_fit_running, rounds, started = threading.Event(), [], []

    class Running(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log):
            long_fit_running.set()
            return False

    def fit(index, threads, cancelled):
        started.append(index)
        if index == 0:  # the largest: a training that would take hours, stopped by the failure
            booster = xgb.train({"nthread": threads, "max_depth": 2}, xgb.DMatrix(x, label=y), num_boost_round=10**7,
                                callbacks=[Running(), StopWhenSet(cancelled)])
            rounds.append(booster.num_boosted_rounds())
            raise FitCancelled("held_out")
        long_fit_running.wait(30)
        raise ValueError(f"fit {index} failed")

    with pytest.raises(ValueError, match="fit 1 failed"):  # the failure, not the cancellations it caused
        side_by_side([50, 40, 30, 20, 10], 2, fit)
    assert rounds and rounds[0] < 10**7  # the running training ended early
    assert sorted(started) == [0, 1]  # the jobs still queued never started


def test_a_failed_training_still_logs_the_folds_that_finished(monkeypatch):
    data = planted_frame()
    splits = walk_forward(data["timestamp"], folds=4, gap_bars=10, held_out_fraction=0.2)
    scored, calls = training.metrics, []

    def metrics_failing_on_the_last_fit(y, p, threshold):
        calls.append(len(y))
        if len(calls) == len(splits):
            raise ValueError("scoring failed")
        return scored(y, p, threshold)

    monkeypatch.setattr(training, "metrics", metrics_failing_on_the_last_fit)
    log: list[str] = []
    with pytest.raises(ValueError, match="scoring failed"):  # one at a time, largest first: the first split is last
        train_walk_forward(data, ["sig", "noise"], splits, {**TrainingConfig().xgboost_params(), "nthread": 1}, 5,
                           0.6, log)
    assert [line.split(":")[0] for line in log] == [s.name for s in splits[1:]]


def test_the_recorded_folds_never_train_past_their_test_window(db, sql_conn, store):
    plant(db, beta=0.5)
    train(db, store)
    folds = sql_conn.execute("SELECT metrics FROM model_training_runs").fetchone()[0]
    for fold in [*folds["folds"], folds["held_out"]]:
        gap = datetime.fromisoformat(fold["test_start"]) - datetime.fromisoformat(fold["train_end"])
        assert gap >= timedelta(minutes=10), fold


def test_the_training_set_reaches_back_lookback_days_from_the_newest_day_of_current_features(db, sql_conn, store):
    plant(db, beta=0.5)  # 2,000 minutes: six sessions from 2024-03-04, versions recorded through 2024-03-12
    train(db, store, lookback_days=2, folds=2)
    everything = labelled(db, "1m", ["sig", "noise"])
    window = everything.filter(pl.col("timestamp") >= datetime(2024, 3, 11, tzinfo=UTC))  # 03-13 00:00 - 2 days
    assert 0 < window.height < everything.height
    parameters = sql_conn.execute("SELECT parameters FROM models").fetchone()[0]
    assert parameters["training_data"]["rows"] == window.height
    assert parameters["training_data"]["start"] == window["timestamp"].min().isoformat()
    assert parameters["lookback_days"] == 2


def test_the_training_start_counts_back_from_the_newest_readable_day_or_from_the_end():
    days = [date(2024, 3, 8), date(2024, 3, 11), date(2024, 3, 12)]
    assert training_start(TrainingConfig(lookback_days=2), days) == datetime(2024, 3, 11, tzinfo=UTC)
    assert training_start(TrainingConfig(lookback_days=2, end="2024-03-12T15:00:00"), days) == \
        datetime(2024, 3, 10, 15, tzinfo=UTC)
    assert training_start(TrainingConfig(lookback_days=2, end="2024-03-09"), days[:1]) == \
        datetime(2024, 3, 7, tzinfo=UTC)
    assert training_start(TrainingConfig(lookback_days=None), days) is None
    assert training_start(TrainingConfig(start="2024-03-01"), days) == datetime(2024, 3, 1, tzinfo=UTC)


def signals(db, store, partition: str, raise_on_error: bool = True, **config):
    return run([trading_signals], {"timescale": db, "model_store": store}, partition, raise_on_error=raise_on_error,
               run_config={"ops": {"trading_signals": {"config": config}}} if config else None)


def test_signals_come_from_the_active_model_after_its_training_data_and_reruns_add_nothing(db, sql_conn, store):
    plant(db, beta=0.5)
    train(db, store)
    model_id, parameters = sql_conn.execute("SELECT model_id::text, parameters FROM models").fetchone()
    trained_through = datetime.fromisoformat(parameters["training_data"]["end"])
    result = signals(db, store, "2024-03-08")
    assert checks(result) == {"signals_have_snapshots": True}
    rows = sql_conn.execute("SELECT signal_id::text, timestamp, symbol, signal_type, confidence::float8,"
                            " model_id::text, timeframe, parameters, features_snapshot FROM trading_signals").fetchall()
    assert rows and {r[5] for r in rows} == {model_id} and {r[6] for r in rows} == {"1m"}
    assert min(r[1] for r in rows) > trained_through
    stored = {(s, t, f): v for s, t, f, v in sql_conn.execute(
        "SELECT symbol, timestamp, feature_name, feature_value::float8 FROM features")}
    for _, t, symbol, kind, confidence, _, _, params, snapshot in rows:
        assert snapshot == {"sig": stored[(symbol, t, "sig")], "noise": stored[(symbol, t, "noise")]}
        assert params["threshold"] == 0.6 and params["model_version"] == "1"
        up = params["probability_up"]
        assert kind == ("buy" if up >= 0.6 else "sell")
        assert confidence == pytest.approx(up if kind == "buy" else 1 - up, abs=1e-4)
        assert confidence >= 0.6
    md = metadata(result, "trading_signals")
    assert md["buy"] + md["sell"] == len(rows) and md["bars_scored"] > len(rows)
    again = metadata(signals(db, store, "2024-03-08"), "trading_signals")
    assert (again["rows_inserted"], again["rows_updated"]) == (0, 0)
    assert sql_conn.execute("SELECT count(*) FROM trading_signals").fetchone()[0] == len(rows)
    assert metadata(signals(db, store, "2024-03-07"), "trading_signals")["bars_scored"] == 0  # all trained on


def test_a_tampered_model_file_is_refused(db, sql_conn, store):
    plant(db, beta=0.5)
    train(db, store)
    path, parameters = sql_conn.execute("SELECT file_path, parameters FROM models").fetchone()
    with open(path, "r+b") as f:
        f.seek(100)
        f.write(b"\x00\x01")
    with pytest.raises(ModelIntegrityError, match="SHA-256"):
        store.load(path, parameters["file"]["sha256"])
    result = run([trading_signals], {"timescale": db, "model_store": store}, "2024-03-08", raise_on_error=False)
    assert not result.success
    assert sql_conn.execute("SELECT count(*) FROM trading_signals").fetchone()[0] == 0


def test_without_an_active_model_there_are_no_signals(db, sql_conn, store):
    plant(db, beta=0.0, seed=2)
    train(db, store)  # rejected
    md = metadata(signals(db, store, "2024-03-08"), "trading_signals")
    assert (md["models"], md["buy"], md["sell"]) == ("none", 0, 0)
    assert json.dumps(md["threshold"]) == "0.6"


def test_a_changed_feature_definition_refuses_the_older_model_until_a_new_training(db, sql_conn, store):
    plant(db, beta=0.5)
    train(db, store)
    [(first_id, recorded)] = sql_conn.execute("SELECT model_id::text, parameters -> 'feature_versions' FROM models")
    assert recorded == {"sig": "planted-1", "noise": "planted-1"}
    # sig's definition changes and its features are recomputed (here: re-registered at a new version)
    define_planted(db, {"sig": "planted-2"}, (T0, T0 + timedelta(days=40)))
    failed = signals(db, store, "2024-03-08", raise_on_error=False)
    assert not failed.success
    error = next(e for e in failed.all_events if e.is_step_failure).step_failure_data.error.cause
    assert error.cls_name == "FeatureVersionError" and "sig (model: planted-1, bars: planted-2)" in error.message
    assert sql_conn.execute("SELECT count(*) FROM trading_signals").fetchone()[0] == 0

    train(db, store)  # the new training reads the new definition and records it
    active = sql_conn.execute("SELECT model_id::text, parameters -> 'feature_versions', metrics -> 'promotion'"
                              " FROM models WHERE status = 'active'").fetchone()
    assert active[0] != first_id and active[1] == {"sig": "planted-2", "noise": "planted-1"}
    assert active[2]["active_model_auc"] is None  # the old model, on other definitions, was not compared
    assert signals(db, store, "2024-03-08", raise_on_error=False).success
    assert sql_conn.execute("SELECT count(DISTINCT model_id) FROM trading_signals").fetchone()[0] == 1


def test_a_training_reads_only_the_days_stored_at_the_current_versions(db, sql_conn, store):
    plant(db, beta=0.5)
    days = sorted({t.date() for t in session_minutes(BARS)})
    stale = (datetime.combine(days[0], datetime.min.time(), UTC), datetime.combine(days[2], datetime.min.time(), UTC))
    record_versions(db, "1m", {"sig": "planted-0"}, stale)  # the first two days computed by an older definition
    train(db, store)
    parameters = sql_conn.execute("SELECT parameters FROM models").fetchone()[0]
    assert datetime.fromisoformat(parameters["training_data"]["start"]).date() == days[2]



def test_the_gate_compares_only_on_held_out_rows_after_the_active_models_training_data(db, sql_conn, store):
    plant(db, beta=0.5)
    train(db, store)  # v1 trains on everything before the latest fifth
    train(db, store, end=session_minutes(BARS)[1200].isoformat())  # v2's held-out rows are inside v1's training
    rows = models(sql_conn)
    assert [(r[0], r[1]) for r in rows] == [("1", "active"), ("2", "rejected")]
    promotion = rows[1][3]["promotion"]
    assert "no held-out row after the active model's training data" in promotion["reason"]
    assert promotion["active_model_auc"] is None  # never scored in-sample
    train(db, store, seed=8)  # v3: the same held-out period as v1, all of it after v1's training data
    v3 = models(sql_conn)[2][3]["promotion"]
    assert v3["active_model_auc"] is not None and "held-out rows after its training data" in v3["reason"]


def test_end_bounds_the_labels_too(db):
    plant(db, beta=0.5)
    times = session_minutes(BARS)
    data = labelled(db, "1m", ["sig"], end=times[1000])
    assert data["timestamp"].max() == times[998]  # times[999] would take its label from times[1000], past end
    assert data["next_timestamp"].max() == times[999] < times[1000]


def test_a_promotion_retires_only_the_model_the_gate_compared_with(db, sql_conn, store):
    plant(db, beta=0.5)
    train(db, store)
    [(first_id,)] = sql_conn.execute("SELECT model_id::text FROM models").fetchall()
    registry.start_run(db, "00000000-0000-0000-0000-000000000001", {})
    row = {"model_id": "00000000-0000-0000-0000-000000000002", "model_name": MINUTE_MODEL,
           "target": registry.TARGET, "features": ["sig"], "parameters": "{}", "metrics": "{}",
           "created_at": datetime.now(UTC), "version": "9", "status": "active", "file_path": "x"}
    with pytest.raises(registry.PromotionRaceError, match="not promoted"):  # it compared with no active model
        registry.record_model(db, "00000000-0000-0000-0000-000000000001", row, "", {}, compared_with=None)
    assert sql_conn.execute("SELECT model_id::text, status FROM models").fetchall() == [(first_id, "active")]
    registry.record_model(db, "00000000-0000-0000-0000-000000000001", row, "", {}, compared_with=first_id)
    assert dict(sql_conn.execute("SELECT model_id::text, status FROM models").fetchall()) == {
        first_id: "retired", row["model_id"]: "active"}


def test_one_training_of_a_name_runs_at_a_time(db, sql_conn, store):
    plant(db, beta=0.5)
    with registry.training_lock(db, MINUTE_MODEL):
        busy = train(db, store, raise_on_error=False)
    assert not busy.success
    error = next(e for e in busy.all_events if e.is_step_failure).step_failure_data.error.cause
    assert error.cls_name == "TrainingBusy" and "another training" in error.message
    assert sql_conn.execute("SELECT count(*) FROM models").fetchone()[0] == 0
    assert train(db, store).success  # the lock is released with its holder
