"""Alembic migrations (one change per revision, `<rev>_<slug>.py`). Run with `relais migrate`."""
