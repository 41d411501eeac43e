"""ingest: fetch papers from the sources and parse them, purely, into RawPaper values.

``http`` is the one way bytes are fetched (timeouts, retries, politeness); ``hf``, ``arxiv`` and
``rss`` each fetch and parse one source, ``files`` detects and parses saved answers and
paperpost's own JSON; ``ids`` and ``clean`` make identity and text canonical. Storing is
``service.store.papers``; the use cases are in ``service.pipeline.ingest``.
"""
