#!/bin/bash
# PID 1 of the UML guest of ipvs-proc.test.ts: every value comes from the environment (the kernel
# command line: DL_OUT, DL_LAB, DL_DLNSRUN, DL_PROBE — the agent's probe.sh), none is pasted into
# this script. Namespace a holds IPVS services without persistence (two schedulers, masquerade and
# direct routing, a service with no real server) and sees one refused connection; namespace p holds
# a persistent service. The agent's dumps (dumps_from) and ipvsadm's own are left in $DL_OUT.
# shellcheck source=guest-lib.sh
source "${BASH_SOURCE[0]%/*}/guest-lib.sh" || exit 1
guest_boot
modprobe -a veth dummy ip_vs ip_vs_rr ip_vs_wrr ip_vs_sh 2>"$DL_OUT/modprobe.err"
L=$DL_LAB O=$DL_OUT
ns() { printf 'dl-%s-%s' "$L" "$1"; }
for n in a b c p; do ip netns add "$(ns $n)"; ip -n "$(ns $n)" link set lo up; done
link() {  # link A B NET: a veth between A (NET.1) and B (NET.2)
  ip -n "$(ns $1)" link add "to-$2" type veth peer name "to-$1" netns "$(ns $2)"
  ip -n "$(ns $1)" addr add "$3.1/24" dev "to-$2"; ip -n "$(ns $1)" link set "to-$2" up
  ip -n "$(ns $2)" addr add "$3.2/24" dev "to-$1"; ip -n "$(ns $2)" link set "to-$1" up
}
link a b 10.0.0; link c a 10.1.0
ip -n "$(ns b)" route add default via 10.0.0.1; ip -n "$(ns c)" route add default via 10.1.0.1
ip netns exec "$(ns a)" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.vs.conntrack=1
ip -n "$(ns a)" link add vip type dummy; ip -n "$(ns a)" link set vip up
for v in 1 2 3 4; do ip -n "$(ns a)" addr add "10.9.0.$v/32" dev vip; done
ip netns exec "$(ns a)" ipvsadm -R <<'IPVS'
-A -t 10.9.0.1:80 -s rr
-a -t 10.9.0.1:80 -r 10.0.0.2:8080 -m -w 1
-a -t 10.9.0.1:80 -r 10.0.0.3:8080 -m -w 3
-A -u 10.9.0.2:53 -s wrr
-a -u 10.9.0.2:53 -r 10.0.0.2:53 -m -w 2
-A -t 10.9.0.3:443 -s sh
-A -t 10.9.0.4:80 -s rr
-a -t 10.9.0.4:80 -r 10.0.0.4:80 -g -w 1
IPVS
ip netns exec "$(ns p)" ipvsadm -R <<'IPVS'
-A -t 10.9.0.5:80 -s rr -p 10800
-a -t 10.9.0.5:80 -r 10.0.0.2:80 -m -w 1
IPVS
# Two connections to the rr service: one per real server, each refused by b (nothing listens;
# 10.0.0.3 is nobody, so that SYN goes unanswered): connection entries, so non-zero counters.
for i in 1 2; do ip netns exec "$(ns c)" timeout 2 bash -c 'exec 3<>/dev/tcp/10.9.0.1/80' 2>/dev/null; done
# The agent's dumps: probe.sh's dumps_from with its helpers, as the agent defines them.
LAB=$L OUT=$O/agent DLNSRUN=$DL_DLNSRUN
mkdir -p "$OUT/dump"
is_lab_ns() { [[ $1 =~ ^dl-${LAB}-[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$ ]]; }
event() { :; }
fail() { echo "agent: $*" >&2; exit 10; }
source "$DL_PROBE"
printf 'ipvs\t%s\nipvs\t%s\n' "$(ns a)" "$(ns p)" >"$O/dumps.tsv"
dumps_from "$O/dumps.tsv" final
echo $? >"$O/dumps.rc"
for n in a p; do
  ip netns exec "$(ns $n)" ipvsadm -Ln >"$O/ipvsadm-$n.txt" 2>&1
  ip netns exec "$(ns $n)" cat /proc/net/ip_vs >"$O/proc-$n.txt" 2>&1
done
rc=0
