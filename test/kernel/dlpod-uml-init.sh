#!/bin/bash
# PID 1 of the UML guest of dlpod-uml.test.ts: every value comes from the environment (the kernel
# command line: DL_OUT, DL_LAB, DL_DLPOD), none is pasted into this script. Each case leaves
# NAME.rc and NAME.out in $DL_OUT (a host folder: the guest's root is the host's, hostfs).
# shellcheck source=guest-lib.sh
source "${BASH_SOURCE[0]%/*}/guest-lib.sh" || exit 1
guest_boot
modprobe -a veth sctp 2>"$DL_OUT/modprobe.err"
L=$DL_LAB O=$DL_OUT D=$DL_DLPOD
ns() { printf 'dl-%s-%s' "$L" "$1"; }
ip netns add "$(ns cli)"; ip -n "$(ns cli)" link set lo up
for k in 1 2; do
  ip netns add "$(ns srv$k)"; ip -n "$(ns srv$k)" link set lo up
  ip -n "$(ns cli)" link add "to$k" type veth peer name eth0 netns "$(ns srv$k)"
  ip -n "$(ns cli)" addr add "10.8.$k.1/24" dev "to$k"; ip -n "$(ns cli)" link set "to$k" up
  ip -n "$(ns srv$k)" addr add "10.8.$k.2/24" dev eth0; ip -n "$(ns srv$k)" link set eth0 up
done
"$D" serve "$L" "/run/netns/$(ns srv1)" sctp 9000 "$O/a" "/run/netns/$(ns srv2)" sctp 9000 "$O/b" \
  "/run/netns/$(ns srv1)" tcp 80 "$O/a" "/run/netns/$(ns srv2)" udp 53 "$O/u" >"$O/serve.out" 2>"$O/serve.err" &
pid=$!
for i in $(seq 100); do [[ -s $O/serve.out ]] && break; sleep 0.05; done
case_() { local name=$1; shift; "$@" >"$O/$name.out" 2>"$O/$name.err"; echo $? >"$O/$name.rc"; }
P=(ip netns exec "$(ns cli)")
case_ sctp1 "$D" probe "$L" "/run/netns/$(ns cli)" sctp 10.8.1.2 9000 40101 1 x
case_ sctp2 "$D" probe "$L" "/run/netns/$(ns cli)" sctp 10.8.2.2 9000 40102 1 x
case_ tcp1 "$D" probe "$L" "/run/netns/$(ns cli)" tcp 10.8.1.2 80 40103 1 x
case_ udp2 "$D" probe "$L" "/run/netns/$(ns cli)" udp 10.8.2.2 53 40104 1 "probe p1"$'\n'
case_ socat-sctp1 "${P[@]}" socat -T 1 -u SCTP-CONNECT:10.8.1.2:9000,connect-timeout=1,sourceport=40105,reuseaddr STDOUT
case_ refused "$D" probe "$L" "/run/netns/$(ns cli)" sctp 10.8.1.2 9001 40106 1 x
case_ socat-refused "${P[@]}" socat -T 1 -u SCTP-CONNECT:10.8.1.2:9001,connect-timeout=1,sourceport=40107,reuseaddr STDOUT
case_ bulk "$D" bulk "$L" "/run/netns/$(ns cli)" sctp 10.8.2.2 9000 20 1
case_ bash-bulk "${P[@]}" bash -c 'for ((i = 1; i <= 3; i++)); do body=$(socat -T 1 -u SCTP-CONNECT:10.8.2.2:9000,connect-timeout=1 STDOUT)
  if [[ $? == 0 && -n $body ]]; then printf "%s\t0\t%s\n" "$i" "${body//[$'"'\r\n'"']/ }"; else printf "%s\t1\t\n" "$i"; fi; done'
kill -TERM "$pid"; wait "$pid"; echo $? >"$O/term.rc"
case_ after "$D" probe "$L" "/run/netns/$(ns cli)" sctp 10.8.1.2 9000 40108 1 x
rc=0
