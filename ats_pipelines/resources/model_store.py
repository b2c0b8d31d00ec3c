"""ModelStoreResource: model files in XGBoost's own format, each with a SHA-256 recorded beside its row."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import dagster as dg
import xgboost as xgb
from pydantic import Field

DEFAULT_MODEL_DIR = "var/models"


class ModelIntegrityError(RuntimeError):
    """A model file is missing or its checksum differs from the one recorded: it must not be used."""


class ModelStoreResource(dg.ConfigurableResource):
    """A directory of model files (``ATS_MODEL_DIR``, default ``var/models``), one per model id, written
    atomically; loading verifies the checksum before XGBoost reads a byte."""

    directory: str | None = Field(default=None, description="defaults to ATS_MODEL_DIR, then var/models")

    @property
    def root(self) -> Path:
        return Path(self.directory or os.environ.get("ATS_MODEL_DIR") or DEFAULT_MODEL_DIR).resolve()

    def save(self, booster: xgb.Booster, model_name: str, version: str, model_id: str) -> tuple[str, str]:
        """Write ``booster`` (UBJSON, XGBoost's binary format); returns (path, sha256)."""
        folder = self.root / model_name
        folder.mkdir(parents=True, exist_ok=True)
        payload = bytes(booster.save_raw("ubj"))
        path = folder / f"v{version}-{model_id}.ubj"
        with tempfile.NamedTemporaryFile(dir=folder, delete=False, suffix=".tmp") as tmp:
            tmp.write(payload)
        os.replace(tmp.name, path)
        return str(path), hashlib.sha256(payload).hexdigest()

    def load(self, path: str, sha256: str) -> xgb.Booster:
        """The booster at ``path``, refused with :class:`ModelIntegrityError` unless its SHA-256 matches. It
        predicts on one thread: scoring is a bar's rows or a day's, where an OpenMP team costs more than it
        gives, and on a busy machine waits tens of milliseconds for its threads."""
        try:
            payload = Path(path).read_bytes()
        except OSError as exc:
            raise ModelIntegrityError(f"model file {path} cannot be read: {exc}") from exc
        actual = hashlib.sha256(payload).hexdigest()
        if actual != sha256:
            raise ModelIntegrityError(f"model file {path} has SHA-256 {actual}, the registry recorded {sha256}")
        booster = xgb.Booster()
        booster.load_model(bytearray(payload))
        booster.set_param({"nthread": 1})
        return booster
