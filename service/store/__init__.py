"""The store: SQLite persistence of documents and extraction runs (see docs/store.md)."""

from .db import Store, open_db
from .migrations import MIGRATIONS, applied_migrations, migrate, migration

__all__ = ["MIGRATIONS", "Store", "applied_migrations", "migrate", "migration", "open_db"]
