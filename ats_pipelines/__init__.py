"""ats_pipelines: the data platform of an autonomous trading system, as a Dagster project."""
