#!/bin/bash
# PID 1 of the User-Mode Linux guest of test/kernel/dlnet.test.ts: applies each case's `ip -batch` files twice, in fresh
# namespaces of the same names each time — with one `ip -n NS -batch FILE` per namespace, then
# with one dlnet for all — and dumps both; runs the refusal cases both ways. Everything it reads
# and writes is under DLNET_DIR (written by the test on the host's file system, hostfs in the guest):
#   cases/NAME/lab       the lab id the files were compiled for
#   cases/NAME/objects   the namespaces' objects, one a line
#   cases/NAME/steps     OBJECT<TAB>FILE, in build order
#   → cases/NAME/{a,b}/OBJECT.dump, cases/NAME/{ip,dlnet}.{rc,err}, cases/NAME/dlnet.out
#   bad/NAME/batch (+ optional args: dlnet's argv, one a line, @DIR@ for the case folder)
#   → bad/NAME/{ip,dlnet}.{rc,err}, dlnet.out, {ip,dlnet}.links (links after the run),
#     other-ip.links, other.links (another lab's namespace after ip's run, after dlnet's)
#   bad.labs "A B"; each bad case gets fresh namespaces dl-A-n, dl-B-n, dl-B-peer, dl-ffffff-other
# DLNET_DIR and DLNET_BIN come on the kernel command line (the kernel passes them to init).
# The test compares; this script only runs and records.
# shellcheck source=guest-lib.sh
source "${BASH_SOURCE[0]%/*}/guest-lib.sh" || exit 1
guest_boot
modprobe -a veth dummy ipvlan 8021q bridge
# New namespaces copy this (the guest's) IPv6 defaults: no duplicate address detection, so link-local
# addresses and their routes exist as soon as a link is up — not a second later, on the guest's clock.
sysctl -q -w net.core.devconf_inherit_init_net=1 net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
D=${DLNET_DIR:?}
DLNET=${DLNET_BIN:?}
DUMPS=$D/dumps.batch   # link show, addr show, route show table all, rule show, neigh show
exec 2>"$D/guest.err"

# ns_batch VERB NS...: one `ip -batch` adding or deleting the namespaces.
ns_batch() { local v=$1 n; shift; for n in "$@"; do echo "netns $v $n"; done | ip -batch -; }

# dump_all DIR OBJECT...: each namespace's links, addresses, routes, rules and neighbours, once
# carrier and IPv6 link-local addresses have settled (linkwatch, DAD).
dump_all() {
  local out=$1 o; shift
  sleep 2
  mkdir -p "$out"
  for o in "$@"; do ip -d -n "dl-$L-$o" -batch "$DUMPS" >"$out/$o.dump" 2>&1; done
}

# Each case twice in fresh namespaces of the same names: built by ip (→ a/), then by dlnet (→ b/).
for c in "$D"/cases/*; do
  read -r L <"$c/lab"
  mapfile -t objs <"$c/objects"
  ns_batch add "${objs[@]/#/dl-$L-}" || exit 1
  : >"$c/ip.err"
  ok=0
  args=()
  while IFS=$'\t' read -r o f; do
    ip -n "dl-$L-$o" -batch "$f" 2>>"$c/ip.err" || ok=1
    args+=("/run/netns/dl-$L-$o" "$f")
  done <"$c/steps"
  echo "$ok" >"$c/ip.rc"
  dump_all "$c/a" "${objs[@]}"
  ns_batch del "${objs[@]/#/dl-$L-}"
  ns_batch add "${objs[@]/#/dl-$L-}" || exit 1
  "$DLNET" "$L" "${args[@]}" >"$c/dlnet.out" 2>"$c/dlnet.err"
  echo "$?" >"$c/dlnet.rc"
  dump_all "$c/b" "${objs[@]}"
  ns_batch del "${objs[@]/#/dl-$L-}"
done

for c in "$D"/bad/*; do
  read -r A B <"$D/bad.labs"
  ns_batch add "dl-$A-n" "dl-$B-n" "dl-$B-peer" "dl-ffffff-other" || exit 1
  ip -n "dl-$A-n" -batch "$c/batch" 2>"$c/ip.err"
  echo "$?" >"$c/ip.rc"
  ip -o -n "dl-ffffff-other" link show >"$c/other-ip.links"
  args=("$B" "/run/netns/dl-$B-n" "$c/batch")
  if [[ -f $c/args ]]; then mapfile -t args <"$c/args"; args=("${args[@]//@DIR@/$c}"); fi
  "$DLNET" "${args[@]}" >"$c/dlnet.out" 2>"$c/dlnet.err"
  echo "$?" >"$c/dlnet.rc"
  ip -o -n "dl-$A-n" link show >"$c/ip.links"
  ip -o -n "dl-$B-n" link show >"$c/dlnet.links"
  ip -o -n "dl-ffffff-other" link show >"$c/other.links"
  ns_batch del "dl-$A-n" "dl-$B-n" "dl-$B-peer" "dl-ffffff-other"
done
rc=0
