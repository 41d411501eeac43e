"""ingest: fetch papers from sources and parse them, purely, into RawPaper values."""
