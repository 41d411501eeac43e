"""workers: the Celery app, its beat schedule, and thin tasks that call service.pipeline."""
