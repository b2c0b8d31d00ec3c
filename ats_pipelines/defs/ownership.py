"""Who answers for each domain's assets: the owners the Dagster UI shows on every asset of the domain."""

from collections.abc import Callable

import dagster as dg

DATA_PLATFORM = "team:data-platform"  # market_data, reference, options_flow: vendor data in, correct and complete
QUANT_RESEARCH = "team:quant-research"  # features, models: what the strategies learn from and decide with
TRADING = "team:trading"  # orders and positions: the money path
PLATFORM_OPS = "team:platform-ops"  # cache, monitoring: what keeps it running and visible


def owned_by(owner: str) -> Callable[[dg.AssetSpec], dg.AssetSpec]:
    """For ``Definitions.map_asset_specs``: every asset of the domain gets ``owner``."""
    return lambda spec: spec.replace_attributes(owners=[owner])
