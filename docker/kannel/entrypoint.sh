#!/bin/sh
# bearerbox first, then smsbox (it connects to bearerbox); the container ends when either ends.
set -e
CONF=${KANNEL_CONF:-/etc/kannel/kannel.conf}
bearerbox "$CONF" &
BB=$!
sleep 2
smsbox "$CONF" &
SB=$!
trap 'kill $SB $BB 2>/dev/null' TERM INT
while kill -0 $BB 2>/dev/null && kill -0 $SB 2>/dev/null; do sleep 5; done
kill $SB $BB 2>/dev/null || true
exit 1
