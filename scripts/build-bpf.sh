#!/usr/bin/env bash
# Build the tc eBPF service load balancer (bpf/lb4.c) into a git-ignored directory.
#   scripts/build-bpf.sh [OUT_DIR] [extra clang args...]     (default OUT_DIR: .lab/bpf)
# Produces OUT_DIR/lb4.o. Needs: clang (Debian: clang), bpf/bpf_helpers.h
# (Debian: libbpf-dev), linux/bpf.h + asm/types.h (Debian: linux-libc-dev).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-"$here/.lab/bpf"}
shift || true
command -v clang >/dev/null || { echo "build-bpf: clang not found (Debian package: clang)" >&2; exit 2; }
[ -f /usr/include/bpf/bpf_helpers.h ] || { echo "build-bpf: bpf/bpf_helpers.h not found (Debian package: libbpf-dev)" >&2; exit 2; }
multiarch=$(gcc -print-multiarch 2>/dev/null || dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo "$(uname -m)-linux-gnu")
mkdir -p "$out"
clang -O2 -g -target bpf -Wall -Werror \
  -I"/usr/include/$multiarch" -I"$here/bpf" \
  "$@" -c "$here/bpf/lb4.c" -o "$out/lb4.o"
echo "$out/lb4.o"
