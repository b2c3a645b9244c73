"""The store: canonical schema, connection by URL, migrations, ingestion and privacy."""

from marketloop.store.engine import Store, open_store

__all__ = ["Store", "open_store"]
