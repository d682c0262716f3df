#!/bin/sh
# Entry point of the Pleura image: `web`, `worker`, `beat`, `migrate`, `manage ARGS…`, or any command.
# Settings come from the environment (deploy/README.md); DJANGO_SETTINGS_MODULE defaults to production.
set -eu
role="${1:-web}"
[ "$#" -gt 0 ] && shift
cd "${PLEURA_APP_DIR:-/srv/pleura/app}"
# The image's HEALTHCHECK reads which process this container runs (deploy/docker/healthcheck.py).
echo "$role" > "${PLEURA_ROLE_FILE:-/tmp/pleura.role}"
case "$role" in
  web)
    # ASGI: HTTP and the job-progress websockets. Behind nginx, which sets X-Forwarded-For/-Proto.
    cd platform
    exec daphne -b 0.0.0.0 -p "${PLEURA_PORT:-8000}" --proxy-headers \
      --application-close-timeout 30 pleura.asgi:application "$@" ;;
  worker)
    # Queues by task-name family (settings CELERY_TASK_ROUTES): ingest, analysis (CPU); gpu, scoring (GPU).
    exec celery --workdir platform -A pleura worker -Q "${PLEURA_WORKER_QUEUES:-ingest,analysis}" \
      -c "${PLEURA_WORKER_CONCURRENCY:-2}" -n "${PLEURA_WORKER_NAME:-cpu}@%h" \
      ${PLEURA_WORKER_MAX_MEMORY_KB:+--max-memory-per-child=$PLEURA_WORKER_MAX_MEMORY_KB} "$@" ;;
  beat)
    exec celery --workdir platform -A pleura beat --schedule /tmp/celerybeat-schedule "$@" ;;
  migrate)
    # Run once per release, before the new web and workers start (compose: a one-shot service; k8s: a Job).
    exec python manage.py migrate --noinput "$@" ;;
  manage)
    exec python manage.py "$@" ;;
  *)
    exec "$role" "$@" ;;
esac
