#!/bin/bash
# Run the user's program when it exists in the content directory, otherwise a
# static file server; restart when the program appears, changes or exits.
# usage: supervise.sh APP_FILE RUNNER -- FALLBACK_CMD [ARGS...]
set -u
APP_FILE=$1
RUNNER=$2
shift 3
child=0
trap '[ "$child" -gt 0 ] && kill -TERM "$child" 2>/dev/null; wait "$child" 2>/dev/null; exit 0' TERM INT

stamp() { stat -c '%Y.%s' "$APP_FILE" 2>/dev/null || echo none; }

while :; do
    seen=$(stamp)
    if [ -f "$APP_FILE" ]; then
        echo "[containerpoker] starting $RUNNER $APP_FILE"
        (cd "$(dirname "$APP_FILE")" && exec "$RUNNER" "$APP_FILE") &
    else
        "$@" &
    fi
    child=$!
    while kill -0 "$child" 2>/dev/null; do
        sleep 1
        if [ "$(stamp)" != "$seen" ]; then
            echo "[containerpoker] $APP_FILE changed: restarting"
            kill -TERM "$child" 2>/dev/null
            break
        fi
    done
    wait "$child" 2>/dev/null
    sleep 0.5
done
