#!/bin/bash
# PID 1 of the User-Mode Linux guest of test/kernel/dlipvs.test.ts: loads each case's IPVS table
# twice — with `ipvsadm -R` in namespace dl-LAB-a<N>, and (for every case at once) with one dlipvs
# in dl-LAB-b<N> — and dumps both namespaces; then runs the refusal cases. Everything it reads and
# writes is under DLIPVS_DIR (written by the test on the host's file system, hostfs in the guest):
#   lab                  the lab id of the namespaces
#   cases/N/table        an `ipvsadm -R` file
#   → cases/N/{a,b}.{Ln,save,thresholds,proc}  ipvsadm -Ln, ipvsadm -S -n, ipvsadm -Ln --thresholds
#     and /proc/net/ip_vs of each namespace; cases/N/ipvsadm.{rc,err}; dlipvs.{rc,out,err} (all cases)
#   bad/NAME/args        dlipvs's argv, one a line (@DIR@ for the case folder, @LAB@ for the lab id)
#   → bad/NAME/dlipvs.{rc,out,err}, bad/NAME/<ns>.save for each namespace named in the args
# DLIPVS_DIR and DLIPVS_BIN come on the kernel command line (the kernel passes them to init).
# The test compares; this script only runs and records.
# shellcheck source=guest-lib.sh
source "${BASH_SOURCE[0]%/*}/guest-lib.sh" || exit 1
guest_boot
D=${DLIPVS_DIR:?}
BIN=${DLIPVS_BIN:?}
exec 2>"$D/guest.err"
# The schedulers the cases name (the kernel would ask for them itself; loaded here, once).
modprobe -a ip_vs ip_vs_rr ip_vs_wrr ip_vs_sh ip_vs_lc || exit 1
read -r L <"$D/lab"

dump() {  # dump NS PREFIX: the namespace's table as ipvsadm and the kernel print it
  ip netns exec "$1" ipvsadm -Ln >"$2.Ln" 2>&1
  ip netns exec "$1" ipvsadm -S -n >"$2.save" 2>&1
  ip netns exec "$1" ipvsadm -Ln --thresholds >"$2.thresholds" 2>&1
  ip netns exec "$1" cat /proc/net/ip_vs >"$2.proc" 2>&1
}

cases=()
for c in "$D"/cases/*; do cases+=("${c##*/}"); done
{ for n in "${cases[@]}"; do echo "netns add dl-$L-a$n"; echo "netns add dl-$L-b$n"; done; } | ip -batch - || exit 1
# A real server's address must be unicast for the namespace (ip_vs_new_dest, inet_addr_type): a
# namespace whose loopback never came up has no local table yet and calls every address broadcast.
for n in "${cases[@]}"; do ip -n "dl-$L-a$n" link set lo up && ip -n "dl-$L-b$n" link set lo up || exit 1; done
args=()
for n in "${cases[@]}"; do
  c=$D/cases/$n
  ip netns exec "dl-$L-a$n" ipvsadm -R <"$c/table" 2>"$c/ipvsadm.err"
  echo "$?" >"$c/ipvsadm.rc"
  args+=("/run/netns/dl-$L-b$n" "$c/table")
done
"$BIN" "$L" "${args[@]}" >"$D/dlipvs.out" 2>"$D/dlipvs.err"
echo "$?" >"$D/dlipvs.rc"
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
  for ns in "dl-$L-r1" "dl-$L-r2" dl-ffffff-other; do ip -n "$ns" link set lo up || exit 1; done
  mapfile -t a <"$c/args"
  a=("${a[@]//@DIR@/$c}")
  a=("${a[@]//@LAB@/$L}")
  "$BIN" "${a[@]}" >"$c/dlipvs.out" 2>"$c/dlipvs.err"
  echo "$?" >"$c/dlipvs.rc"
  for ns in "dl-$L-r1" "dl-$L-r2" dl-ffffff-other; do ip netns exec "$ns" ipvsadm -S -n >"$c/$ns.save" 2>&1; done
  ip -batch - <<<"netns del dl-$L-r1
netns del dl-$L-r2
netns del dl-ffffff-other"
done
rc=0
