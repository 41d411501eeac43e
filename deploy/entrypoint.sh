#!/bin/sh
# The container's command picks its role:
#   web      the web app (PAPERPOST_WEB_PORT, default 8000)
#   worker   a Celery worker (PAPERPOST_WORKER_CONCURRENCY processes, default 2)
#   beat     the scheduler: run exactly one
#   migrate  apply database migrations, then exit
#   paperpost ARGS...   any admin command, e.g. `paperpost doctor`
set -eu

role="${1:-web}"
[ "$#" -gt 0 ] && shift

usage() {
  echo "usage: paperpost-entrypoint web|worker|beat|migrate|paperpost [ARGS...]" >&2
  exit 2
}

case "$role" in
  web|worker|beat|migrate) printf '%s\n' "$role" >"${PAPERPOST_ROLE_FILE:-/tmp/paperpost-role}" ;;
esac

case "$role" in
  web)
    exec paperpost web --host 0.0.0.0 --port "${PAPERPOST_WEB_PORT:-8000}" "$@" ;;
  worker)
    exec paperpost worker --concurrency "${PAPERPOST_WORKER_CONCURRENCY:-2}" "$@" ;;
  beat)
    exec paperpost beat "$@" ;;
  migrate)
    exec paperpost db upgrade "$@" ;;
  paperpost)
    exec paperpost "$@" ;;
  -h|--help|help)
    usage ;;
  *)
    echo "unknown role: $role" >&2
    usage ;;
esac
