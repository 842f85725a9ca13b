#!/bin/sh
# Removes the instances and containers a benchmark run left in $WORK
# (bench/run-all.sh calls it at the end, also after a failure).
[ -n "${WORK:-}" ] && [ -d "$WORK" ] || exit 0
. "$(dirname "$0")/lib.sh"
cleanup_runtimes
