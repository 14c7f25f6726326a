#!/bin/sh
# bearerbox first, then smsbox (it connects to bearerbox); the container ends when either ends.
# Exit 0 when stopped (docker stop: SIGTERM), 1 when a box died by itself (compose restarts it).
set -e
CONF=${KANNEL_CONF:-/etc/kannel/kannel.conf}
STOPPING=
bearerbox "$CONF" &
BB=$!
sleep 2
smsbox "$CONF" &
SB=$!
trap 'STOPPING=1; kill $SB $BB 2>/dev/null || true' TERM INT
while [ -z "$STOPPING" ] && kill -0 $BB 2>/dev/null && kill -0 $SB 2>/dev/null; do sleep 1; done
kill $SB $BB 2>/dev/null || true
wait $SB $BB 2>/dev/null || true
[ -n "$STOPPING" ] && exit 0
exit 1
