"""The store: SQLite persistence of documents and extraction runs (see docs/store.md)."""

from service.store.db import Store, open_db
from service.store.migrations import MIGRATIONS, applied_migrations, migrate, migration

__all__ = ["MIGRATIONS", "Store", "applied_migrations", "migrate", "migration", "open_db"]
