#!/bin/sh
# Role commands of the gait image (k8s/images/Dockerfile). PID 1 is tini, which forwards SIGTERM to the
# command exec'd here: gunicorn and Celery shut down gracefully on it (Celery: warm shutdown, the running
# task finishes first), so the pod's terminationGracePeriodSeconds bounds how long that may take.
#
#   web                      gunicorn on :8000 (platform/gaitsite/gunicorn.conf.py; WEB_CONCURRENCY)
#   worker QUEUES [ARGS...]  a Celery worker consuming QUEUES (comma-separated), e.g. `worker preprocess,default --concurrency 2`
#   ping NAME                exit 0 if this pod's worker NAME@<hostname> answers `celery inspect ping` (probes)
#   beat                     celery beat: the app's periodic tasks (the sweeper) to their queues; one replica
#   beat-alive               exit 0 if beat wrote its schedule file in the last 15 minutes (probes)
#   sweep                    sends the stuck-session sweeper task once, now
#   migrate                  `manage.py migrate` (the release's migrations Job)
#   serve-fetch              the champion model archive from storage + TorchServe's config (an initContainer)
#   serve                    TorchServe in the foreground, from what serve-fetch wrote to $GAIT_SERVE_DIR
#   serve-sync               the TorchServe pod's sidecar: keeps TorchServe serving the served set (python -m serving sync)
#   serve-sync-check [--live]  exit 0 if TorchServe serves the served set's default (--live: the loop runs) (probes)
#   gaitfm ARGS...           the science core's CLI (training Jobs)
#   manage ARGS...           any manage.py command
set -eu
role="${1:-web}"
[ $# -gt 0 ] && shift
cd "$(dirname "$0")/../.."  # the repository root: /app in the image
case "$role" in
  web)
    exec gunicorn -c platform/gaitsite/gunicorn.conf.py -b "0.0.0.0:${PORT:-8000}" gaitsite.wsgi "$@" ;;
  worker)
    queues="${1:?worker needs its queues, e.g. preprocess,default}"; shift
    exec celery -A workers.celery_app worker -Q "$queues" -n "${queues%%,*}@${HOSTNAME:-$(hostname)}" --pool prefork \
         --without-gossip --without-mingle -l "${GAIT_LOG_LEVEL:-INFO}" "$@" ;;
  ping)
    exec celery -A workers.celery_app inspect ping -d "${1:?ping needs the worker name}@${HOSTNAME:-$(hostname)}" --timeout 10 ;;
  beat)
    exec celery -A workers.celery_app beat -l "${GAIT_LOG_LEVEL:-INFO}" --schedule "${TMPDIR:-/tmp}/celerybeat-schedule" "$@" ;;
  beat-alive)
    [ -n "$(find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'celerybeat-schedule*' -mmin -15 2>/dev/null)" ] ;;
  sweep)
    exec celery -A workers.celery_app call workers.pipeline.sweep --queue preprocess ;;
  migrate)
    python manage.py check --deploy --fail-level ERROR
    exec python manage.py migrate --no-input ;;
  serve-fetch)
    exec python k8s/images/serve_champion.py "$@" ;;
  serve)
    dir="${GAIT_SERVE_DIR:-/srv/serve}"
    cd "$dir"  # TorchServe writes ./logs; its own pid file goes to TMPDIR
    set -- torchserve --start --foreground --ncs --ts-config "$dir/config.properties" \
         --model-store "$dir/model-store" --disable-token-auth "$@"
    # `tini -s -g` (in the image): TERM reaches the whole group, the torchserve launcher and its Java frontend
    if command -v tini >/dev/null 2>&1; then exec tini -s -g -- "$@"; fi
    exec "$@" ;;
  serve-sync)
    port="${GAIT_SERVE_PORT:-8380}"
    exec python -m serving sync --run-dir "${GAIT_SERVE_DIR:-/srv/serve}" --port "$port" --no-token-auth \
         --pointer "${GAIT_TORCHSERVE_SERVED_POINTER:?serve-sync needs GAIT_TORCHSERVE_SERVED_POINTER}" \
         --interval "${GAIT_SERVE_SYNC_INTERVAL_S:-10}" --model-name "${GAIT_SERVE_MODEL_NAME:-gaitmae}" \
         --workers "${GAIT_SERVE_WORKERS:-1}" --batch-size "${GAIT_SERVE_BATCH_SIZE:-8}" \
         --max-batch-delay "${GAIT_SERVE_MAX_BATCH_DELAY_MS:-20}" "$@" ;;
  serve-sync-check)
    exec python -m serving sync-check --run-dir "${GAIT_SERVE_DIR:-/srv/serve}" "$@" ;;
  gaitfm)
    exec python -m gaitcore.cli "$@" ;;
  manage)
    exec python manage.py "$@" ;;
  *)
    echo "unknown role '$role' (web, worker, ping, beat, beat-alive, sweep, migrate, serve-fetch, serve, serve-sync, serve-sync-check, gaitfm, manage)" >&2
    exit 64 ;;
esac
