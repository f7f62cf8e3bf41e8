#!/bin/bash
# PID 1 of the UML guest of dlbird-uml.test.ts: every value comes from the environment (the kernel
# command line: DL_OUT, DL_LAB, DL_DLBIRD, DL_PROBE — the agent's probe.sh, for bird_dump), none is
# pasted into this script. Three BIRDs: r1 and r2 peer over a veth; r3's peer (in r4) runs no
# BIRD. Each case leaves NAME.rc, NAME.out and NAME.err in $DL_OUT (a host folder, hostfs).
# shellcheck source=guest-lib.sh
source "${BASH_SOURCE[0]%/*}/guest-lib.sh" || exit 1
guest_boot
modprobe -a veth dummy 2>"$DL_OUT/modprobe.err"
L=$DL_LAB O=$DL_OUT D=$DL_DLBIRD
ns() { printf 'dl-%s-%s' "$L" "$1"; }
for r in r1 r2 r3 r4; do ip netns add "$(ns $r)"; ip -n "$(ns $r)" link set lo up; done
link() {  # link A B NET: a veth between A (NET.1) and B (NET.2)
  ip -n "$(ns $1)" link add "to-$2" type veth peer name "to-$1" netns "$(ns $2)"
  ip -n "$(ns $1)" addr add "$3.1/30" dev "to-$2"; ip -n "$(ns $1)" link set "to-$2" up
  ip -n "$(ns $2)" addr add "$3.2/30" dev "to-$1"; ip -n "$(ns $2)" link set "to-$1" up
}
link r1 r2 10.0.0; link r3 r4 10.0.1
# Each BIRD announces a /24 and a host /32 on a dummy (the kernel keys "10.R.R.0/24", "10.9.9.R").
for k in 1 2 3; do
  ip -n "$(ns r$k)" link add d0 type dummy; ip -n "$(ns r$k)" link set d0 up
  ip -n "$(ns r$k)" addr add "10.$k.$k.1/24" dev d0; ip -n "$(ns r$k)" addr add "10.9.9.$k/32" dev d0
done
conf() {  # conf K LOCAL PEER PEER_AS: BIRD 2's configuration for router K (AS 6500K), one BGP peer
  cat <<CONF
router id 10.9.9.$1;
protocol device {}
protocol direct { ipv4; interface "d0"; }
protocol kernel { ipv4 { export all; }; }
protocol bgp peer { local $2 as 6500$1; neighbor $3 as $4; connect delay time 0; connect retry time 1;
  ipv4 { import all; export all; }; }
CONF
}
conf 1 10.0.0.1 10.0.0.2 65002 >"$O/r1.conf"; conf 2 10.0.0.2 10.0.0.1 65001 >"$O/r2.conf"; conf 3 10.0.1.1 10.0.1.2 65004 >"$O/r3.conf"
for k in 1 2 3; do ip netns exec "$(ns r$k)" bird -c "$O/r$k.conf" -s "/run/$(ns r$k).ctl" -P "/run/r$k.pid" 2>"$O/bird-r$k.err"; done
case_() { local name=$1; shift; "$@" >"$O/$name.out" 2>"$O/$name.err"; echo $? >"$O/$name.rc"; }
S1=/run/$(ns r1).ctl S2=/run/$(ns r2).ctl S3=/run/$(ns r3).ctl
# r1 and r2 converge (each learns the other's /24 and /32); r3 never does.
case_ wait "$D" wait "$(ns r1)" "$S1" 20 2 10.2.2.0/24 10.9.9.2/32 "$(ns r2)" "$S2" 20 2 10.1.1.0/24 10.9.9.1
case_ timeout "$D" wait "$(ns r1)" "$S1" 3 1 10.2.2.0/24 "$(ns r3)" "$S3" 3 1 10.4.4.0/24
case_ route-missing "$D" wait "$(ns r1)" "$S1" 2 2 10.2.2.0/24 10.7.7.0/24
case_ not-lab "$D" wait "$(ns r1)" /tmp/x.ctl 2 0
# The dumps: today's birdcl path (probe.sh bird_dump), then dlbird's, of the same converged BIRDs.
BIRDCL=birdcl
source "$DL_PROBE"
for k in 1 2 3; do bird_dump "/run/$(ns r$k).ctl" "$O/birdcl-r$k.txt"; done
case_ dump "$D" dump "$S1" "$O/dlbird-r1.txt" "$S2" "$O/dlbird-r2.txt" "$S3" "$O/dlbird-r3.txt"
case_ dump-gone "$D" dump "/run/$(ns r4).ctl" "$O/dlbird-r4.txt"
BIRDCL=birdcl; bird_dump "/run/$(ns r4).ctl" "$O/birdcl-r4.txt"
for k in 1 2 3; do kill "$(cat /run/r$k.pid)"; done
rc=0
