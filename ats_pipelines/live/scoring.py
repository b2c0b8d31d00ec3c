"""The active model, scored on each completed bar through the batch asset's own scoring.

The registry is asked for the active model of the name before every bar (one indexed query), so a newly
promoted model is used from the next bar on without a restart; its file is loaded once per model id, through
``ModelStoreResource.load`` (SHA-256 checked before XGBoost reads a byte). A file that fails the check gives
no signal at all and one ``model_integrity`` alert per model; so does a model trained on other feature versions
than the running code's (one ``model_feature_versions`` alert). Rows come from
:func:`~ats_pipelines.defs.models.signals.score_bars` on the live features (as the table stores them), so a
bar scored live gives the row the after-close ``trading_signals`` run would write, which then adds nothing.
"""

from __future__ import annotations

import logging

import polars as pl
import xgboost as xgb

from ats_pipelines.defs.features.versions import FeatureVersionError, current_versions, require_versions
from ats_pipelines.defs.models import registry
from ats_pipelines.defs.models.signals import scorable, score_bars
from ats_pipelines.defs.monitoring.alerts import record_alert
from ats_pipelines.resources import ModelIntegrityError, ModelStoreResource, TimescaleResource

log = logging.getLogger(__name__)


class ActiveScorer:
    """Signals of the active model named ``model_name`` on live feature rows."""

    def __init__(self, timescale: TimescaleResource, store: ModelStoreResource, model_name: str,
                 threshold: float) -> None:
        self.timescale, self.store, self.model_name, self.threshold = timescale, store, model_name, threshold
        self.model: registry.RegisteredModel | None = None
        self._booster: xgb.Booster | None = None
        self._refused: set[str] = set()

    def refresh(self) -> registry.RegisteredModel | None:
        """The active model now, its booster loaded when it changed; None without a usable one."""
        model = registry.active_model(self.timescale, self.model_name)
        if model is None or model.model_id in self._refused:
            self.model = self._booster = None
            return None
        if self.model is None or model.model_id != self.model.model_id:
            try:
                require_versions(model.label, model.features, model.feature_versions,
                                 current_versions(model.features))
                booster = self.store.load(model.file_path, model.sha256)
            except (ModelIntegrityError, FeatureVersionError) as exc:
                self._refused.add(model.model_id)
                self.model = self._booster = None
                log.error("model %s v%s refused: %s", model.model_id, model.version, exc)
                kind = "model_integrity" if isinstance(exc, ModelIntegrityError) else "model_feature_versions"
                record_alert(self.timescale, alert_type=kind, severity="critical", component="live",
                             message=f"model v{model.version} refused: {exc}", cause={"model_id": model.model_id})
                return None
            self.model, self._booster = model, booster
            log.info("scoring with model %s v%s", model.model_id, model.version)
        return self.model

    def signals(self, wide: pl.DataFrame, timeframe: str) -> pl.DataFrame:
        """``trading_signals`` rows of the confident calls on ``wide`` (live features of completed bars)."""
        model = self.refresh()
        if model is None or model.timeframe != timeframe or not set(model.features) <= set(wide.columns):
            return pl.DataFrame()
        bars = scorable(wide.select("symbol", "timestamp", *model.features), model)
        if bars.height == 0:
            return pl.DataFrame()
        return score_bars(self._booster, model, bars, self.threshold, current_versions(model.features))
