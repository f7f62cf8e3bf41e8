#!/usr/bin/env bash
# capture.sh OUTBASE CMD [ARG...]: runs CMD with its argv as given (no shell, no eval) inside the
# namespace the agent's exec step entered; stdout → OUTBASE.txt, stderr → OUTBASE.err, exit
# status → OUTBASE.rc. Always exits 0: a measuring step never fails a benchmark build.
out=${1:?usage: capture.sh OUTBASE CMD [ARG...]}
shift
"$@" >"$out.txt" 2>"$out.err" </dev/null
echo "$?" >"$out.rc"
exit 0
