#!/usr/bin/env bash
# CI for the docker runner: makes sure a docker engine answers, builds the lab's image, runs a
# command while the engine is up, and stops the engine again if this script started it.
#
#   bash scripts/ci-docker.sh                 # runs the docker runner's test (test/runners/docker.test.ts)
#   bash scripts/ci-docker.sh npm test        # any command, with the engine up (the docker test needs one)
#
# 1. Installs docker.io and debootstrap when missing (the engine is not started by the package:
#    a temporary policy-rc.d keeps apt from starting it with its defaults, which would create
#    docker0 and iptables rules on the host).
# 2. When no engine answers, starts dockerd in the background such that it touches nothing on the
#    host's network: no bridge, no iptables/ip6tables rules, no ip_forward, no masquerade. Its
#    data root is $DL_DOCKER_ROOT (default /var/lib/docker, so the image survives between runs),
#    its exec root, pid file and log under a temporary directory.
# 3. bash scripts/build-docker-image.sh (skips when the tagged image exists).
# 4. Runs the command; exits with its status.
# 5. Stops dockerd if step 2 started it (SIGTERM, then SIGKILL after 20 s), and its containerd.
# Prints how long each step took. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) -eq 0 ]] || { echo "ci-docker: needs root (apt-get, dockerd, debootstrap)" >&2; exit 2; }
if (($# == 0)); then set -- npx --no-install ava test/runners/docker.test.ts; fi  # npx: Node 24 from node_modules/.bin

t_start=$SECONDS
step() { echo "ci-docker: $* ($((SECONDS - t_start)) s)"; }

# --- 1. packages ---------------------------------------------------------------------------
missing=()
for p in docker.io debootstrap; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  step "installing ${missing[*]}"
  added_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && added_policy=1
  fi
  rc=0
  { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } || rc=$?
  ((added_policy)) && rm -f /usr/sbin/policy-rc.d
  ((rc == 0)) || { echo "ci-docker: apt-get install ${missing[*]} failed ($rc)" >&2; exit "$rc"; }
  # Where systemd runs, the package enables docker.socket/docker.service: this script manages
  # its own engine, so leave the units alone but do not let socket activation start a default one.
  if [[ -d /run/systemd/system ]]; then systemctl stop docker.socket docker.service >/dev/null 2>&1 || true; fi
  step "installed ${missing[*]}"
fi

# --- 2. engine -----------------------------------------------------------------------------
engine_up() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }
STARTED_PID=""
WORK=""
stop_engine() {
  local rc=$?
  if [[ -n $STARTED_PID ]]; then
    step "stopping dockerd (pid $STARTED_PID)"
    kill -TERM "$STARTED_PID" 2>/dev/null || true
    for _ in $(seq 200); do kill -0 "$STARTED_PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$STARTED_PID" 2>/dev/null; then kill -KILL "$STARTED_PID" 2>/dev/null || true; fi
    # dockerd stops the containerd it started; make sure of it (its pid file is under the exec root).
    local cpid
    cpid=$(cat "$WORK/exec/containerd/containerd.pid" 2>/dev/null || true)
    [[ -n $cpid ]] && kill -0 "$cpid" 2>/dev/null && kill -TERM "$cpid" 2>/dev/null || true
  fi
  if [[ -n $WORK ]]; then
    umount -R "$WORK/exec" 2>/dev/null || true
    rm -rf --one-file-system "$WORK" 2>/dev/null || true
  fi
  step "done (status $rc)"
  exit "$rc"
}
trap stop_engine EXIT

if engine_up; then
  step "a docker engine answers ($(docker version --format '{{.Server.Version}}')): using it"
else
  WORK=$(mktemp -d /tmp/dl-dockerd-XXXXXX)
  mkdir -p "$WORK/exec"
  DATA_ROOT=${DL_DOCKER_ROOT:-/var/lib/docker}
  step "starting dockerd (data root $DATA_ROOT, pid file $WORK/dockerd.pid, log $WORK/dockerd.log)"
  setsid dockerd \
    --data-root "$DATA_ROOT" --exec-root "$WORK/exec" --pidfile "$WORK/dockerd.pid" \
    -H unix:///var/run/docker.sock \
    --bridge=none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
    >"$WORK/dockerd.log" 2>&1 </dev/null &
  STARTED_PID=$!
  for _ in $(seq 300); do engine_up && break; kill -0 "$STARTED_PID" 2>/dev/null || break; sleep 0.1; done
  if ! engine_up; then
    echo "ci-docker: dockerd did not come up; its log:" >&2
    tail -30 "$WORK/dockerd.log" >&2
    exit 1
  fi
  step "dockerd $(docker version --format '{{.Server.Version}}') answers"
fi

# --- 3. image ------------------------------------------------------------------------------
bash scripts/build-docker-image.sh
step "image $(bash scripts/build-docker-image.sh --print-tag) ready"

# --- 4. the command ------------------------------------------------------------------------
step "running: $*"
"$@"
