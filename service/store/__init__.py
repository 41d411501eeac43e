"""store: the SQLAlchemy models, sessions, migrations and the ledger queries."""
