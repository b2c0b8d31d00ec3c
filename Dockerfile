# One image for the code location, the webserver and the daemon.
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONUNBUFFERED=1 DAGSTER_HOME=/app
COPY pyproject.toml README.md ./
COPY ats_pipelines ./ats_pipelines
COPY sql ./sql
RUN pip install --no-cache-dir ".[deploy]"
COPY docker/dagster.yaml docker/workspace.yaml ./
