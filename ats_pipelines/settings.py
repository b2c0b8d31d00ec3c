"""Connection settings read from the environment, with defaults for a local machine.

Secrets (database passwords, API keys) only ever come from the environment; anything printed goes
through :func:`redact_url` first.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

DEFAULT_DATABASE_URL = "postgresql://127.0.0.1:5432/ats"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_DAGSTER_PG_URL = "postgresql+psycopg2://127.0.0.1:5432/ats_dagster"


def database_url() -> str:
    """PostgreSQL/TimescaleDB URL of the market-data database (``ATS_DATABASE_URL``)."""
    return os.environ.get("ATS_DATABASE_URL") or DEFAULT_DATABASE_URL


def redis_url() -> str:
    """Redis URL of the hot cache (``ATS_REDIS_URL``)."""
    return os.environ.get("ATS_REDIS_URL") or DEFAULT_REDIS_URL


def dagster_pg_url() -> str:
    """PostgreSQL URL of Dagster's own storage (``DAGSTER_PG_URL``), in SQLAlchemy's psycopg2 form."""
    return os.environ.get("DAGSTER_PG_URL") or DEFAULT_DAGSTER_PG_URL


def timescale_setting() -> str:
    """``ATS_TIMESCALE``: ``auto`` (use the extension when the server has it), ``require`` or ``off``."""
    value = (os.environ.get("ATS_TIMESCALE") or "auto").strip().lower()
    if value not in {"auto", "require", "off"}:
        raise ValueError(f"ATS_TIMESCALE must be auto, require or off, not {value!r}")
    return value


def with_database(url: str, name: str) -> str:
    """``url`` naming database ``name`` instead: host, credentials and libpq parameters (``sslmode``, ...) kept."""
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def database_name(url: str) -> str:
    """The database a PostgreSQL URL names."""
    return urlsplit(url).path.lstrip("/")


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***`` and the query string dropped, safe to print."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{host}" if ":" in userinfo else f"{user}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
