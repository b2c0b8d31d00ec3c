"""The model registry in the database: training-run rows, model rows, versions and the promotion gate.

Promotion rule (documented in docs/models.md): on the same held-out period, the new model's ROC AUC must be
at least ``0.5 + MIN_EDGE_OVER_CHANCE`` and at least the active model's AUC + ``MIN_GAIN_OVER_ACTIVE``.
The comparison uses only held-out rows after the active model's training data. Then, in one transaction, the
active model the gate compared with is locked and retired and the new one inserted as ``active``; if another
model became active meanwhile, nothing is written (PromotionRaceError). The partial unique index
``models_one_active_per_name`` makes two active models of one name impossible, and :func:`training_lock`
lets one training of a name run at a time. Otherwise the new model is kept as ``rejected``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from ats_pipelines.db.locks import advisory_lock
from ats_pipelines.resources import TimescaleResource
from ats_pipelines.sql_files import read_sql_beside

MIN_EDGE_OVER_CHANCE = 0.02
MIN_GAIN_OVER_ACTIVE = 0.005
TARGET = "next_bar_direction"

START_RUN_SQL = read_sql_beside(__file__, "start_training_run.sql")
FINISH_RUN_SQL = read_sql_beside(__file__, "finish_training_run.sql")
NEXT_VERSION_SQL = read_sql_beside(__file__, "next_model_version.sql")
ACTIVE_MODEL_SQL = read_sql_beside(__file__, "active_model.sql")
RETIRE_SQL = read_sql_beside(__file__, "retire_active_model.sql")
INSERT_MODEL_SQL = read_sql_beside(__file__, "insert_model.sql")
LOCK_ACTIVE_SQL = read_sql_beside(__file__, "lock_active_model.sql")


class PromotionRaceError(RuntimeError):
    """The active model changed between the gate's comparison and the promotion: nothing was promoted."""


class TrainingBusy(RuntimeError):
    """Another training of the same model name is running."""


@contextmanager
def training_lock(timescale: TimescaleResource, model_name: str) -> Iterator[None]:
    """Hold the model name's PostgreSQL advisory lock (a session lock on a connection kept for the block) for
    the whole training, so one training of a name runs at a time, whoever starts it; a second one raises
    :class:`TrainingBusy` at once instead of waiting."""
    with advisory_lock(timescale, f"training:{model_name}", 0.0, lambda: TrainingBusy(
            f"another training of {model_name} is running; this one did not start")):
        yield


@dataclass(frozen=True)
class RegisteredModel:
    """A model row, with what scoring needs from its parameters."""

    model_id: str
    version: str
    features: list[str]
    parameters: dict
    metrics: dict
    file_path: str

    @property
    def timeframe(self) -> str:
        return self.parameters["timeframe"]

    @property
    def sha256(self) -> str:
        return self.parameters["file"]["sha256"]

    @property
    def label(self) -> str:
        return f"model v{self.version} ({self.model_id})"

    @property
    def feature_versions(self) -> dict[str, str]:
        """The version of each feature the model was trained on (none recorded: trained before versions)."""
        return dict(self.parameters.get("feature_versions") or {})

    @property
    def trained_through(self) -> datetime:
        """The last bar time of the data the model was fitted on; signals come only after it."""
        return datetime.fromisoformat(self.parameters["training_data"]["end"])


def jsonb_text(value: object) -> str:
    """JSON text for a JSONB column: an undefined metric (NaN) becomes null, which JSONB can hold."""

    def clean(v: object) -> object:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [clean(x) for x in v]
        return v

    return json.dumps(clean(value), default=str)


def start_run(timescale: TimescaleResource, run_id: str, parameters: dict) -> None:
    timescale.execute(START_RUN_SQL, {"run_id": run_id, "parameters": jsonb_text(parameters)})


def finish_run(timescale: TimescaleResource, run_id: str, status: str, logs: str, metrics: dict | None = None,
               model_id: str | None = None) -> None:
    timescale.execute(FINISH_RUN_SQL, {"run_id": run_id, "status": status, "model_id": model_id, "logs": logs,
                                       "metrics": jsonb_text(metrics) if metrics is not None else None})


def next_version(timescale: TimescaleResource, model_name: str) -> str:
    return timescale.read(NEXT_VERSION_SQL, {"model_name": model_name}).item()


def active_model(timescale: TimescaleResource, model_name: str) -> RegisteredModel | None:
    rows = timescale.read(ACTIVE_MODEL_SQL, {"model_name": model_name})
    if rows.height == 0:
        return None
    row = rows.row(0, named=True)
    return RegisteredModel(row["model_id"], row["version"], list(row["features"]), json.loads(row["parameters"]),
                           json.loads(row["metrics"]), row["file_path"])


def promotion(new_auc: float, active_auc: float | None) -> tuple[str, str]:
    """``("active" | "rejected", reason)`` by the rule in this module's docstring."""
    floor = 0.5 + MIN_EDGE_OVER_CHANCE
    if not new_auc >= floor:  # NaN fails too
        return "rejected", f"held-out AUC {new_auc:.4f} is below chance + {MIN_EDGE_OVER_CHANCE} ({floor:.4f})"
    if active_auc is not None and not new_auc >= active_auc + MIN_GAIN_OVER_ACTIVE:
        return "rejected", (f"held-out AUC {new_auc:.4f} does not beat the active model's {active_auc:.4f} "
                            f"by {MIN_GAIN_OVER_ACTIVE}")
    against = f"the active model's {active_auc:.4f}" if active_auc is not None else "no active model"
    return "active", f"held-out AUC {new_auc:.4f} beats chance + {MIN_EDGE_OVER_CHANCE} and {against}"


def record_model(timescale: TimescaleResource, run_id: str, row: dict, logs: str, run_metrics: dict,
                 compared_with: str | None) -> None:
    """Insert the model and complete the run, in one transaction. A new ``active`` model first locks and
    retires ``compared_with``, the active model the gate saw (None: there was none); if the active model is
    another one now, PromotionRaceError and nothing is written."""
    with timescale.connection() as conn, conn.transaction(), conn.cursor() as cur:
        if row["status"] == "active":
            cur.execute(LOCK_ACTIVE_SQL, {"model_name": row["model_name"]})
            current = cur.fetchone()
            if (current[0] if current else None) != compared_with:
                raise PromotionRaceError(
                    f"the active {row['model_name']} is {current[0] if current else 'none'} now, not "
                    f"{compared_with or 'none'} as when the gate compared: model not promoted; train again")
            if current:
                cur.execute(RETIRE_SQL, {"model_id": current[0]})
        cur.execute(INSERT_MODEL_SQL, row)
        cur.execute(FINISH_RUN_SQL, {"run_id": run_id, "status": "completed", "model_id": row["model_id"],
                                     "logs": logs, "metrics": jsonb_text(run_metrics)})
