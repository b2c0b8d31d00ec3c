"""Access to the project's SQL files (``sql/`` at the repository root, packaged as ``_sql``)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


@cache
def sql_root() -> Path:
    """The directory holding the schema SQL: the packaged copy in a wheel, else the checkout's ``sql/``."""
    for candidate in (_PACKAGE_DIR / "_sql", _PACKAGE_DIR.parent / "sql"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("no sql/ directory next to the ats_pipelines package")


def read_sql(relative_path: str) -> str:
    """Text of ``sql/<relative_path>``."""
    return (sql_root() / relative_path).read_text()


def read_sql_beside(module_file: str, name: str) -> str:
    """Text of ``sql/<name>`` in the folder of a domain module (pass ``__file__``)."""
    return (Path(module_file).resolve().parent / "sql" / name).read_text()
