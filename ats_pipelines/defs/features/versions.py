"""Feature versions beside the stored rows (table ``feature_versions``), and the rule that scoring follows.

The features asset records, for every UTC day it wrote, the version (:attr:`FeatureSpec.version`) of each
feature it computed, and registers the current one in ``feature_metadata``. A training reads only the days
whose every feature is stored at its registered version and
records those versions with the model; scoring refuses a model whose recorded versions differ from the
definitions of the bars it scores (the stored versions in batch, the running code's live), until a new
training records the new ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta

from ats_pipelines.defs.features.flow import FLOW
from ats_pipelines.defs.features.specs import FeatureSpec
from ats_pipelines.defs.features.technical import TECHNICAL
from ats_pipelines.resources import TimescaleResource
from ats_pipelines.sql_files import read_sql_beside

RECORD_SQL = read_sql_beside(__file__, "record_feature_versions.sql")
CURRENT_DAYS_SQL = read_sql_beside(__file__, "current_feature_days.sql")
STORED_SQL = read_sql_beside(__file__, "stored_feature_versions.sql")
REGISTERED_SQL = read_sql_beside(__file__, "registered_feature_versions.sql")


class FeatureVersionError(RuntimeError):
    """A model was trained on other definitions of its features than those it would score."""


def current_versions(names: Iterable[str]) -> dict[str, str]:
    """The running code's version of each named feature (a name no spec defines has none)."""
    specs = {s.name: s for s in (*TECHNICAL, *FLOW)}
    return {name: specs[name].version for name in names if name in specs}


def spec_versions(specs: Iterable[FeatureSpec]) -> dict[str, str]:
    return {s.name: s.version for s in specs}


def record_versions(timescale: TimescaleResource, timeframe: str, versions: Mapping[str, str],
                    window: tuple[datetime, datetime]) -> int:
    """Record each feature's version for every UTC day of ``window`` (a partition or a range of them)."""
    last = (window[1] - timedelta(microseconds=1)).date()
    return timescale.execute(RECORD_SQL, {"timeframe": timeframe, "first": window[0].date(), "last": last,
                                          "names": list(versions), "versions": list(versions.values())})


def registered_versions(timescale: TimescaleResource, names: Sequence[str]) -> dict[str, str]:
    """The current version of each named feature, as the last features run registered it (feature_metadata)."""
    return dict(timescale.read(REGISTERED_SQL, {"names": list(names)}).iter_rows())


def current_days(timescale: TimescaleResource, timeframe: str, versions: Mapping[str, str],
                 names: Sequence[str]) -> list[date]:
    """The UTC days whose every one of ``names`` is stored at its version in ``versions``: what a training may
    read (none when a name has no current version)."""
    if not set(names) <= set(versions):
        return []
    rows = timescale.read(CURRENT_DAYS_SQL, {"timeframe": timeframe, "names": list(names),
                                             "versions": [versions[n] for n in names]})
    return rows["day"].to_list() if rows.height else []


def stored_versions(timescale: TimescaleResource, timeframe: str, names: Sequence[str],
                    window: tuple[datetime, datetime]) -> dict[str, set[str]]:
    """The versions stored for each named feature over the UTC days of ``window``."""
    rows = timescale.read(STORED_SQL, {"timeframe": timeframe, "names": list(names), "first": window[0].date(),
                                       "end": (window[1] - timedelta(microseconds=1)).date() + timedelta(days=1)})
    return {name: set(versions) for name, versions in rows.iter_rows()}


def require_versions(model_label: str, features: Sequence[str], recorded: Mapping[str, str],
                     found: Mapping[str, str | set[str]]) -> None:
    """Raise FeatureVersionError unless every feature's ``found`` version(s) equal the ``recorded`` one."""
    differ = []
    for name in features:
        have = found.get(name)
        have = {have} if isinstance(have, str) else set(have or ())
        if recorded.get(name) is None or have != {recorded[name]}:
            differ.append(f"{name} (model: {recorded.get(name) or 'unrecorded'}, "
                          f"bars: {', '.join(sorted(have)) or 'unrecorded'})")
    if differ:
        raise FeatureVersionError(
            f"{model_label} was trained on other feature definitions than those it would score: "
            f"{'; '.join(differ)}. Recompute the features and train a new model; it is refused until then.")
