"""observability: Prometheus metrics, structured logs, health checks."""
