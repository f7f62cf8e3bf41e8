#!/bin/bash
# PID 1 of the User-Mode Linux guest of test/kernel/dlipset.test.ts: makes each case's ipsets
# twice — with `ipset restore` in namespace dl-LAB-a<N>, and (for every case at once) with one
# dlipset in dl-LAB-b<N> — and dumps both namespaces; then runs the refusal cases. Everything it
# reads and writes is under DLIPSET_DIR (written by the test on the host's file system):
#   lab                  the lab id of the namespaces
#   cases/N/restore      an `ipset restore` file
#   → cases/N/{a,b}.{save,list}  ipset save and ipset list of each namespace;
#     cases/N/ipset.{rc,err}; dlipset.{rc,out,err} (all cases)
#   bad/NAME/args        dlipset's argv, one a line (@DIR@ for the case folder, @LAB@ for the lab id)
#   → bad/NAME/dlipset.{rc,out,err}, bad/NAME/<ns>.save for each of the case's namespaces
# DLIPSET_DIR and DLIPSET_BIN come on the kernel command line (the kernel passes them to init).
# The test compares; this script only runs and records.
# shellcheck source=guest-lib.sh
source "${BASH_SOURCE[0]%/*}/guest-lib.sh" || exit 1
guest_boot
D=${DLIPSET_DIR:?}
BIN=${DLIPSET_BIN:?}
exec 2>"$D/guest.err"
modprobe -a ip_set ip_set_hash_ip ip_set_hash_ipport ip_set_hash_ipportip ip_set_hash_ipportnet ip_set_bitmap_port || exit 1
read -r L <"$D/lab"

dump() {  # dump NS PREFIX: the namespace's sets as ipset prints them
  ip netns exec "$1" ipset save >"$2.save" 2>&1
  ip netns exec "$1" ipset list >"$2.list" 2>&1
}

cases=()
for c in "$D"/cases/*; do cases+=("${c##*/}"); done
{ for n in "${cases[@]}"; do echo "netns add dl-$L-a$n"; echo "netns add dl-$L-b$n"; done; } | ip -batch - || exit 1
args=()
for n in "${cases[@]}"; do
  c=$D/cases/$n
  ip netns exec "dl-$L-a$n" ipset restore -file "$c/restore" 2>"$c/ipset.err"
  echo "$?" >"$c/ipset.rc"
  args+=("/run/netns/dl-$L-b$n" "$c/restore")
done
"$BIN" "$L" "${args[@]}" >"$D/dlipset.out" 2>"$D/dlipset.err"
echo "$?" >"$D/dlipset.rc"
for n in "${cases[@]}"; do
  dump "dl-$L-a$n" "$D/cases/$n/a"
  dump "dl-$L-b$n" "$D/cases/$n/b"
done
{ for n in "${cases[@]}"; do echo "netns del dl-$L-a$n"; echo "netns del dl-$L-b$n"; done; } | ip -batch -

# Refusals: fresh namespaces dl-LAB-r1, dl-LAB-r2 and another lab's dl-ffffff-other for each case.
for c in "$D"/bad/*; do
  ip -batch - <<<"netns add dl-$L-r1
netns add dl-$L-r2
netns add dl-ffffff-other" || exit 1
  mapfile -t a <"$c/args"
  a=("${a[@]//@DIR@/$c}")
  a=("${a[@]//@LAB@/$L}")
  "$BIN" "${a[@]}" >"$c/dlipset.out" 2>"$c/dlipset.err"
  echo "$?" >"$c/dlipset.rc"
  for ns in "dl-$L-r1" "dl-$L-r2" dl-ffffff-other; do ip netns exec "$ns" ipset save >"$c/$ns.save" 2>&1; done
  ip -batch - <<<"netns del dl-$L-r1
netns del dl-$L-r2
netns del dl-ffffff-other"
done
rc=0
