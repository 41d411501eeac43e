"""web: the FastAPI app (subscribe, confirm, preferences, unsubscribe, admin API)."""
