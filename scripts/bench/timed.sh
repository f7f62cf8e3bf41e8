#!/usr/bin/env bash
# timed.sh CMD [ARG...]: runs CMD (argv as given) and prints "rc=<status> ms=<wall time>"; the
# command's own output goes to stderr. Used to time one iptables-restore without counting the
# process that enters the namespace.
t0=${EPOCHREALTIME/,/.}
"$@" >&2
rc=$?
t1=${EPOCHREALTIME/,/.}
printf 'rc=%d ms=%s\n' "$rc" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) * 1000 }')"
