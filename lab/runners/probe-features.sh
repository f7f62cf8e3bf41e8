#!/usr/bin/env bash
# Probes the running kernel for what datapath-lab builds, inside a throwaway namespace (never the
# root namespace). Reads the probe table on stdin (lab/features.ts probeTable: `@file NAME` …
# `@end` blocks, then `FEATURE<TAB>argv…` lines) and prints "<feature> ok|missing" lines. Each
# probe is split on TABs into an argv array and executed as such, never evaluated as shell text.
set -u
ns="dl-probe-$$-$RANDOM"
dir=$(mktemp -d) || exit 1
ip netns add "$ns" 2>/dev/null || { echo "netns missing"; rm -rf "$dir"; exit 0; }
trap 'ip netns del "$ns" 2>/dev/null; rm -rf "$dir"' EXIT
echo "netns ok"
file=""
while IFS= read -r line || [[ -n $line ]]; do
  if [[ -n $file ]]; then
    if [[ $line == @end ]]; then file=""; else printf '%s\n' "$line" >>"$dir/$file"; fi
    continue
  fi
  if [[ $line == "@file "* ]]; then
    file=${line#@file }
    [[ $file =~ ^[A-Za-z0-9._-]+$ ]] || { echo "probe-features: bad file name" >&2; exit 2; }
    : >"$dir/$file"
    continue
  fi
  [[ -z $line ]] && continue
  IFS=$'\t' read -r -a f <<<"$line"
  name=${f[0]}
  argv=("${f[@]:1}")
  argv=("${argv[@]//@NS@/$ns}")
  argv=("${argv[@]//@IPTABLES_RESTORE@/${DL_IPTABLES_RESTORE:-iptables-restore}}")
  for i in "${!argv[@]}"; do
    [[ ${argv[$i]} =~ ^@FILE:([A-Za-z0-9._-]+)@$ ]] && argv[$i]="$dir/${BASH_REMATCH[1]}"
  done
  if "${argv[@]}" >/dev/null 2>&1; then echo "$name ok"; else echo "$name missing"; fi
done
