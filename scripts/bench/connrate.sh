#!/usr/bin/env bash
# connrate.sh IP PORT COUNT READ_TIMEOUT: COUNT sequential TCP connections to IP:PORT from one
# bash process (/dev/tcp: no fork per connection), each reading the answer until the server
# closes. Prints "ok=<answered> fail=<refused or silent> ms=<wall time>". Bounded: the caller
# wraps it in `timeout`.
ip=${1:?} port=${2:?} count=${3:?} to=${4:-2}
ok=0 fail=0
t0=${EPOCHREALTIME/,/.}
for ((i = 0; i < count; i++)); do
  if exec 3<>"/dev/tcp/$ip/$port"; then
    got=0
    while IFS= read -r -t "$to" line <&3; do got=1; done
    exec 3<&- 3>&-
    if ((got)); then ok=$((ok + 1)); else fail=$((fail + 1)); fi
  else
    fail=$((fail + 1))
  fi
done 2>/dev/null
t1=${EPOCHREALTIME/,/.}
printf 'ok=%d fail=%d ms=%s\n' "$ok" "$fail" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) * 1000 }')"
