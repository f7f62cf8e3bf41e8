#!/usr/bin/env bash
# One-time setup on Debian/Ubuntu: the kernel-side tools datapath-lab drives, the UML kernel,
# and the npm dependencies (including a Node 24 binary under node_modules/.bin).
# Usage: bash scripts/setup.sh            (re-running is harmless)
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages, one per tool the lab drives (see README "What gets installed, and why").
PACKAGES=(
  iproute2 iptables ipset ipvsadm conntrack tcpdump socat curl procps util-linux kmod psmisc
  user-mode-linux          # the uml runner's kernel (linux.uml + modules: ipvlan, 8021q, dummy, ip_vs)
  gcc libc6-dev            # builds the UML xstate shim and the lab's helpers (lab/runners/native/*.c)
  libpcap-dev              # builds the capture process (lab/runners/native/dlcap.c: filter compiler)
  libip4tc-dev libxtables-dev   # builds dlipt (lab/runners/native/dlipt.c): iptables-legacy-save's own libraries, shared only
  bpftool clang llvm libbpf-dev   # the tc eBPF load balancer (bpf/lb4.c) and dlbpf, its set-up from one process
  bird2                    # Calico BGP: nodes, top-of-rack and core routers
  iperf3 sockperf mininet bridge-utils iputils-ping   # npm run bench: throughput, latency, the Mininet reference
  graphviz                 # lab diagram --format svg, the HTML report's picture
  chromium                 # headless check of the HTML report in the tests
  vagrant vagrant-libvirt  # the vagrant runner's Vagrantfile (`vagrant validate` in the tests)
)
# docker.io and debootstrap are installed by scripts/ci-docker.sh (which `npm test` runs), so that
# the package's default engine, with its bridge and iptables rules, is never started on the host.

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup: run as root or install sudo" >&2; exit 2; }
  SUDO=(sudo)
fi
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# bird2's package starts a system daemon; the lab runs its own birds inside namespaces only.
if command -v systemctl >/dev/null && systemctl is-active --quiet bird 2>/dev/null; then "${SUDO[@]}" systemctl disable --now bird >/dev/null 2>&1 || true; fi

if [[ -f package-lock.json ]]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi
# The tc eBPF load balancer, compiled from source (clang -target bpf) into .lab/bpf/lb4.o.
bash scripts/build-bpf.sh >/dev/null
# The lab's compiled helpers (lab/runners/native/): dlcap, one capture process for every lab
# namespace (one pcapng stream); dlsysctl, every namespace's sysctls from one process; dlnsrun,
# many commands each in its namespace from one process; dlinit, a UML guest's mounts and poweroff;
# dlpod, every pod server of a lab from one process and the probe client; dlnet, every namespace's
# ip batch from one process speaking rtnetlink (and, first in a build, the namespaces and their sysctls); dldown, a lab's teardown from one process; dlbird,
# every BGP wait and BIRD dump of a build from one process; dlbpf, the tc eBPF load balancer's
# whole set-up and a probe's map dumps from one process, with libbpf; dlipvs, every namespace's IPVS
# table from one process speaking the kernel's IPVS generic netlink family; dlipset, every
# namespace's ipsets from one process over nfnetlink (these eight static: they start faster);
# dlipt, every iptables-legacy-save -c dump of a probe from one process (dynamic: libip4tc and
# libxtables come as shared libraries only, and libxtables dlopens the extensions anyway).
mkdir -p .lab
gcc -O2 -Wall -o .lab/dlcap lab/runners/native/dlcap.c lab/runners/native/selfjournal.c -lpcap
gcc -O2 -Wall -o .lab/dlsysctl lab/runners/native/dlsysctl.c lab/runners/native/sysctl-file.c
gcc -O2 -Wall -o .lab/dlnsrun lab/runners/native/dlnsrun.c
gcc -O2 -Wall -static -o .lab/dlinit lab/runners/native/dlinit.c
gcc -O2 -Wall -static -o .lab/dlpod lab/runners/native/dlpod.c lab/runners/native/selfjournal.c
gcc -O2 -Wall -static -o .lab/dlnet lab/runners/native/dlnet.c lab/runners/native/dlnet-lines.c lab/runners/native/sysctl-file.c lab/runners/native/nlmsg.c
gcc -O2 -Wall -static -o .lab/dldown lab/runners/native/dldown.c
gcc -O2 -Wall -static -o .lab/dlbird lab/runners/native/dlbird.c
gcc -O2 -Wall -static -o .lab/dlbpf lab/runners/native/dlbpf.c lab/runners/native/dlbpf-dump.c -lbpf -lelf -lz
gcc -O2 -Wall -static -o .lab/dlipvs lab/runners/native/dlipvs.c lab/runners/native/nlapply.c lab/runners/native/nlmsg.c
gcc -O2 -Wall -static -o .lab/dlipset lab/runners/native/dlipset.c lab/runners/native/nlapply.c lab/runners/native/nlmsg.c
# (dlipt prints what iptables-legacy-save 1.8.9 prints: with another release it is not built, and
# the agent runs iptables-legacy-save itself; lab/runners/native-tools.ts checks the same.)
if [[ $(iptables-legacy-save --version 2>/dev/null) == 'iptables-save v1.8.9 (legacy)' ]]; then
  gcc -O2 -Wall -o .lab/dlipt lab/runners/native/dlipt.c -lip4tc -lxtables
else
  rm -f .lab/dlipt
fi
echo "setup: done ($(node_modules/.bin/node --version), $(linux.uml --version 2>/dev/null | head -1 || echo 'linux.uml present'))"
