"""The features' columnar export (ATS_FEATURE_EXPORT_DIR): written by the features asset beside the table, the
training dataset read from it equals the one read from the table, and the reader falls back to the table when
the export cannot stand in for it (a missing session, another code version)."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from ats_pipelines.defs.features.assets import features
from ats_pipelines.defs.features.export import EXPORT_DIR_ENV, VERSION_KEY, day_path, read_days
from ats_pipelines.defs.features.technical import NAMES
from ats_pipelines.defs.market_data.assets import stock_aggs
from ats_pipelines.defs.models import dataset
from tests.conftest import feature_resources, market_resources, run

START = datetime(2024, 3, 6, tzinfo=UTC)
END = datetime(2024, 3, 12, 18, tzinfo=UTC)  # inside a session: its later bars are past the end


@pytest.fixture
def exported(db, fake_polygon, tmp_path, monkeypatch):
    """Bars of 2024-03-04..13 and their features, the export on."""
    monkeypatch.setenv(EXPORT_DIR_ENV, str(tmp_path))
    run([stock_aggs], market_resources(db, fake_polygon, stocks="AAPL,MSFT"), "2024-03-04", "2024-03-13")
    run([features], feature_resources(db, "AAPL,MSFT"), "2024-03-04", "2024-03-13")
    return tmp_path


def from_table(db, monkeypatch, **kwargs):
    with monkeypatch.context() as m:
        m.delenv(EXPORT_DIR_ENV)
        return dataset.labelled(db, "1m", list(NAMES), START, END, **kwargs)


def test_the_dataset_from_the_export_equals_the_one_from_the_table(db, exported, monkeypatch):
    assert sorted(p.stem for p in (exported / "1m").glob("*.parquet")) == [
        "2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07", "2024-03-08", "2024-03-09", "2024-03-10",
        "2024-03-11", "2024-03-12", "2024-03-13"]
    assert read_days(exported, "1m", NAMES, dataset.FEATURES_VERSION, START, END) is not None
    for path in (exported / "1m").glob("*.parquet"):  # the training's order, so the read needs no sort
        day = pl.read_parquet(path, columns=["timestamp", "symbol"])
        assert day.equals(day.sort("timestamp", "symbol"))
    ours = dataset.labelled(db, "1m", list(NAMES), START, END)
    table = from_table(db, monkeypatch)
    assert ours.height == table.height > 4 * 2 * 300
    assert ours.select("symbol", "timestamp", "next_timestamp", "label").equals(
        table.select("symbol", "timestamp", "next_timestamp", "label"))
    assert max((ours[n] - table[n]).abs().max() for n in NAMES) <= 1e-8
    msft = dataset.labelled(db, "1m", list(NAMES), START, END, symbols=["MSFT"])
    assert set(msft["symbol"]) == {"MSFT"}
    assert msft.select("timestamp", "label").equals(
        from_table(db, monkeypatch, symbols=["MSFT"]).select("timestamp", "label"))


def test_a_missing_session_or_another_version_sends_the_read_to_the_table(db, exported):
    assert read_days(exported, "1m", NAMES, dataset.FEATURES_VERSION, START, END) is not None
    assert read_days(exported, "1m", NAMES, "another", START, END) is None
    assert read_days(exported, "1m", [*NAMES, "flow_alert_count"], dataset.FEATURES_VERSION, START, END) is None
    path = day_path(exported, "1m", datetime(2024, 3, 8).date())
    pl.read_parquet(path).write_parquet(path, metadata={VERSION_KEY: dataset.FEATURES_VERSION})  # an older layout
    assert read_days(exported, "1m", NAMES, dataset.FEATURES_VERSION, START, END) is None
    pl.read_parquet(path).write_parquet(path, metadata={VERSION_KEY: "older"})
    assert read_days(exported, "1m", NAMES, dataset.FEATURES_VERSION, START, END) is None
    path.unlink()  # a session without its file
    assert read_days(exported, "1m", NAMES, dataset.FEATURES_VERSION, START, END) is None
