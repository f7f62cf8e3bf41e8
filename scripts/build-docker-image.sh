#!/usr/bin/env bash
# Builds the docker runner's image without a registry: a minimal Debian 12 root file system
# (debootstrap --variant=minbase) with the packages of lab/runners/docker-image.packages, then
# `docker import`. Tagged datapath-lab/agent:<hash of the package list>, the tag the runner
# (lab/runners/docker.ts) looks for. Idempotent: does nothing when the tag exists.
# Needs root (debootstrap), debootstrap and a docker engine.
# usage: bash scripts/build-docker-image.sh [--print-tag]
# env:   DL_DEBIAN_MIRROR (default http://deb.debian.org/debian)
set -euo pipefail
cd "$(dirname "$0")/.."
LIST=lab/runners/docker-image.packages
SUITE=bookworm
MIRROR=${DL_DEBIAN_MIRROR:-http://deb.debian.org/debian}

mapfile -t PKGS < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$LIST" | grep -v '^$' | LC_ALL=C sort -u)
HASH=$(printf '%s\n' "${PKGS[@]}" | sha256sum | cut -c1-12)
TAG=datapath-lab/agent:$HASH
if [[ ${1:-} == --print-tag ]]; then echo "$TAG"; exit 0; fi

command -v docker >/dev/null || { echo "build-docker-image: no docker client — apt-get install docker.io" >&2; exit 2; }
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 \
  || { echo "build-docker-image: no docker engine answers — apt-get install docker.io and start dockerd (or: bash scripts/ci-docker.sh true)" >&2; exit 2; }
if docker image inspect "$TAG" >/dev/null 2>&1; then
  echo "build-docker-image: $TAG exists"
  exit 0
fi
[[ $(id -u) -eq 0 ]] || { echo "build-docker-image: debootstrap needs root" >&2; exit 2; }
command -v debootstrap >/dev/null || { echo "build-docker-image: apt-get install debootstrap" >&2; exit 2; }

ROOTFS=$(mktemp -d "${TMPDIR:-/tmp}/dl-rootfs-XXXXXX")
trap 'rm -rf --one-file-system "$ROOTFS"' EXIT
t0=$SECONDS
echo "build-docker-image: debootstrap $SUITE (${PKGS[*]})"
debootstrap --variant=minbase --include="$(IFS=,; echo "${PKGS[*]}")" "$SUITE" "$ROOTFS" "$MIRROR" >"$ROOTFS.log" 2>&1 \
  || { tail -20 "$ROOTFS.log" >&2; rm -f "$ROOTFS.log"; exit 1; }
rm -f "$ROOTFS.log"
t1=$SECONDS
# Smaller image, nothing the agent reads.
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/usr/share/doc "$ROOTFS"/usr/share/man "$ROOTFS"/usr/share/locale
tar -C "$ROOTFS" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["/bin/bash"]' \
  --message "datapath-lab agent image: $SUITE minbase + ${PKGS[*]}" - "$TAG" >/dev/null
echo "build-docker-image: $TAG built (debootstrap $((t1 - t0)) s, import $((SECONDS - t1)) s)"
# Images of earlier package lists are of no use to the runner any more.
docker images datapath-lab/agent --format '{{.Repository}}:{{.Tag}}' | { grep -vxF "$TAG" || true; } | xargs -r docker rmi >/dev/null
