-- Dagster's own run/event storage gets its own database, apart from market data.
CREATE DATABASE ats_dagster;
