"""The Dagster code location: every domain under defs/, merged."""

import dagster as dg

from ats_pipelines.defs.monitoring import definitions as monitoring

defs = dg.Definitions.merge(monitoring.defs)
