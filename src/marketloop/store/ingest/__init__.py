"""Validated, idempotent, atomic ingestion of files into the store.

`load_file` is the single entry point: read (readers), reshape (importers), validate (validate),
write (store.bulk), and record what happened (ingest_runs, rejected_rows), all in one transaction.
"""

from marketloop.store.ingest.loader import IngestSummary, load_dataset, load_file, load_path

__all__ = ["IngestSummary", "load_dataset", "load_file", "load_path"]
