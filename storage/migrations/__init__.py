"""Alembic migrations for the stemme schema; run them with ``storage.migrate``."""
