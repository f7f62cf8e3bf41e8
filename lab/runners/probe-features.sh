#!/usr/bin/env bash
# Probes the running kernel for what datapath-lab builds, inside a throwaway namespace
# (never the root namespace). Prints "<feature> ok|missing" lines.
set -u
ns="dl-probe-$$-$RANDOM"
ip netns add "$ns" 2>/dev/null || { echo "netns missing"; exit 0; }
trap 'ip netns del "$ns" 2>/dev/null' EXIT
t() { local name=$1; shift; if "$@" >/dev/null 2>&1; then echo "$name ok"; else echo "$name missing"; fi; }
echo "netns ok"
t veth     ip -n "$ns" link add t0 type veth peer name t1
t dummy    ip -n "$ns" link add d0 type dummy
t ipvlan   ip -n "$ns" link add link t0 name iv0 type ipvlan mode l2
t vlan     ip -n "$ns" link add link t0 name t0.5 type vlan id 5
t bridge   ip -n "$ns" link add b0 type bridge
t ipvs     ip netns exec "$ns" ipvsadm -A -t 10.255.255.1:80 -s rr
t iptables ip netns exec "$ns" "${DL_IPTABLES_RESTORE:-iptables-restore}" <<'R'
*nat
:PREROUTING ACCEPT [0:0]
-A PREROUTING -d 10.255.255.1/32 -p tcp -m statistic --mode random --probability 0.5 -j DNAT --to-destination 10.255.255.2:80
COMMIT
R
t ipset    ip netns exec "$ns" ipset create dltest hash:ip,port
t clsact   tc -n "$ns" qdisc add dev t0 clsact
t bpf      test -d /sys/fs/bpf
