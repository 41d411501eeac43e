"""observability: what an operator watches and checks. Prometheus counters recorded by the
stages (``metrics``) and gauges computed from the database at scrape time (``gauges``), served
by the web app and by each worker (``exporter``); structured logs (``logs``); liveness and
readiness (``health``); and ``paperpost doctor``'s checks of the database, broker, relay, DNS
records, secret key and public URL (``doctor``, ``dnscheck``)."""
