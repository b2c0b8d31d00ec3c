"""One folder per domain; each exposes `defs` from its definitions.py."""
