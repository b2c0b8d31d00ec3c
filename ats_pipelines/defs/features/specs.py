"""What a feature is: name, group, formula, parameters and a version derived from all of them.

Every feature the platform stores is declared once as a :class:`FeatureSpec` (technical ones in
:mod:`.technical`, options-flow ones in :mod:`.flow`). The spec is the single source of the
``feature_metadata`` row, of the feature's version and of the asset's ``code_version``: change a formula or
a parameter and the version changes, the metadata row is updated with a new ``updated_at``, and the Dagster
UI marks partitions computed by the old definition as stale.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# Bumped when the computation changes in a way the specs do not show (a kernel, a rounding rule).
IMPLEMENTATION = "ta-lib-c/1"


@dataclass(frozen=True)
class FeatureSpec:
    """One stored feature. ``warmup`` is how many earlier bars the first value needs (TA-Lib's lookback);
    ``needs`` names the input columns it reads, so coverage can tell a missing input from a missing value;
    ``always_defined`` is False where data alone can leave a value undefined (a ratio without denominator,
    a z-score of constant volume), so coverage does not demand it."""

    name: str
    group: str
    description: str
    formula: str
    parameters: Mapping[str, object] = field(default_factory=dict)
    warmup: int = 0
    needs: tuple[str, ...] = ("close",)
    always_defined: bool = True

    @property
    def version(self) -> str:
        """12 hex digits of SHA-256 over everything that defines the values (fits VARCHAR(16))."""
        return _digest({
            "name": self.name, "group": self.group, "description": self.description, "formula": self.formula,
            "parameters": dict(self.parameters), "warmup": self.warmup, "needs": list(self.needs),
            "always_defined": self.always_defined,
            "implementation": IMPLEMENTATION,
        })

    def metadata_row(self) -> dict[str, object]:
        """The ``feature_metadata`` columns this spec defines (timestamps are the writer's)."""
        return {"feature_name": self.name, "description": self.description, "formula": self.formula,
                "parameters": json.dumps(dict(self.parameters), sort_keys=True), "version": self.version}


def code_version(specs: Iterable[FeatureSpec], *extra: object) -> str:
    """One version for a set of specs (and settings such as the lead-in), for an asset's ``code_version``."""
    return _digest({"specs": sorted(s.version for s in specs), "extra": [str(e) for e in extra]})


def _digest(payload: object) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]
