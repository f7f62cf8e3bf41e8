#!/usr/bin/env bash
# CI for the Vagrantfile: installs vagrant and the libvirt provider plugin when missing (the
# plugin gives `vagrant validate` a provider and checks the provider block too; no libvirt
# daemon, VM or box download is involved) and runs `vagrant validate`. Needs root to install.
#   bash scripts/ci-vagrant.sh
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$SECONDS
missing=()
for p in vagrant vagrant-libvirt; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  [[ $(id -u) -eq 0 ]] || { echo "ci-vagrant: apt-get install ${missing[*]} (as root)" >&2; exit 2; }
  echo "ci-vagrant: installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "ci-vagrant: installed in $((SECONDS - t0)) s"
fi
# Vagrant's state goes to a temporary directory, not into the repository.
dot=$(mktemp -d /tmp/dl-vagrant-XXXXXX)
trap 'rm -rf "$dot"' EXIT
VAGRANT_DOTFILE_PATH=$dot VAGRANT_CHECKPOINT_DISABLE=1 vagrant validate
echo "ci-vagrant: Vagrantfile valid ($(vagrant --version), $((SECONDS - t0)) s)"
