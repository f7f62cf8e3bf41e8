#!/bin/bash
# Runs inside the docker runner's container (lab/runners/docker.ts execs it): readies the
# container for the agent, runs the agent, and leaves a one-line JSON summary the host
# cross-checks against the exec's exit status (a run without it is broken, never a pass).
#
# usage: docker-init.sh JOBDIR PHASE|probe
#   env DL_HOST_UID, DL_HOST_GID: the host user who owns the job directory (the evidence the
#   container writes as root is handed back to it, so the host can read and remove it).
# The job directory is bind-mounted at the same path as on the host; this script, agent.sh and
# probe-features.sh are bind-mounted read-only next to each other (and, for `probe`, the
# probe table features.tsv from lab/features.ts).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
JOB=${1:?job dir}
PHASE=${2:-all}
HERE=$(dirname "$0")
rc=12
finish() {
  if [[ $PHASE != probe ]]; then
    mkdir -p "$JOB/out"
    printf '{"summary":true,"rc":%d,"kernel":"%s"}\n' "$rc" "$(uname -r)" >"$JOB/out/docker-summary.json.tmp" &&
      mv "$JOB/out/docker-summary.json.tmp" "$JOB/out/docker-summary.json"
    [[ -n ${DL_HOST_UID:-} ]] && chown -R "$DL_HOST_UID:${DL_HOST_GID:-$DL_HOST_UID}" "$JOB/out" 2>/dev/null
  fi
  exit "$rc"
}
trap finish EXIT

# Docker mounts /proc/sys read-only. The lab writes network sysctls only (forwarding, rp_filter,
# proxy_arp in its own namespaces), and the container has its own network namespace: make
# /proc/sys/net alone writable; the rest of /proc/sys (the host kernel's) stays read-only.
if ! grep -q ' /proc/sys/net rw,' /proc/self/mountinfo; then
  if ! mount --bind /proc/sys/net /proc/sys/net || ! mount -o remount,bind,rw /proc/sys/net; then
    echo "docker-init: cannot make /proc/sys/net writable (the container needs CAP_SYS_ADMIN)" >&2
    rc=10
    exit
  fi
fi
mkdir -p /run/netns

if [[ $PHASE == probe ]]; then
  bash "$HERE/probe-features.sh" <"$HERE/features.tsv"
  rc=$?
  exit
fi
bash "$HERE/agent.sh" "$JOB" "$PHASE"
rc=$?
