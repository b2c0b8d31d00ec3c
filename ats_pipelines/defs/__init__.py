"""One package per domain; each has its own definitions.py, merged by ats_pipelines/definitions.py."""

import warnings

import dagster as dg

# backfill_policy and pools are marked beta in Dagster 1.13; we rely on them deliberately.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
