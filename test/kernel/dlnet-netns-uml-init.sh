#!/bin/bash
# PID 1 of the UML guest of dlnet-netns.test.ts: every value comes from the environment (the kernel
# command line: DL_OUT, DL_LAB, DL_DLNET), none is pasted into this script. dlnet makes the lab's
# namespaces (-n), applies a sysctl file (-s) and an ip batch in one of them; then the refusals.
# Each case leaves NAME.rc, NAME.out, NAME.err in $DL_OUT (a host folder, hostfs).
# shellcheck source=guest-lib.sh
source "${BASH_SOURCE[0]%/*}/guest-lib.sh" || exit 1
guest_boot
modprobe -a dummy 2>"$DL_OUT/modprobe.err"
L=$DL_LAB O=$DL_OUT D=$DL_DLNET
case_() { local name=$1; shift; "$@" >"$O/$name.out" 2>"$O/$name.err"; echo $? >"$O/$name.rc"; }
printf 'netns add dl-%s-a\n\nnetns add dl-%s-b\n' "$L" "$L" >"$O/ns.batch"
printf 'net.ipv4.ip_forward = 1\nnet/ipv4/conf/all/rp_filter = 2\n' >"$O/a.sysctl"
printf 'link add d0 type dummy\nlink set d0 up\naddress add 10.7.0.1/24 dev d0\n' >"$O/a.ip"
case_ build "$D" "$L" -n "$O/ns.batch" -s "/run/netns/dl-$L-a" "$O/a.sysctl" "/run/netns/dl-$L-a" "$O/a.ip"
# What was made: two namespaces (not the guest's), the values and the link in a only.
for n in a b; do
  ip netns exec "dl-$L-$n" sysctl -n net.ipv4.ip_forward net.ipv4.conf.all.rp_filter >"$O/sysctl-$n.txt" 2>&1
  ip -n "dl-$L-$n" -o addr show >"$O/addr-$n.txt" 2>&1
  stat -L -c %i "/run/netns/dl-$L-$n" >"$O/ino-$n.txt"
done
sysctl -n net.ipv4.ip_forward net.ipv4.conf.all.rp_filter >"$O/sysctl-guest.txt"
ip -o link show >"$O/links-guest.txt"
stat -L -c %i /proc/self/ns/net >"$O/ino-guest.txt"
grep ' /run/netns ' /proc/self/mountinfo >"$O/mountinfo.txt"
# Refusals: another lab's name in the batch (stops at its line: the one before it is made, nothing
# after), an existing name, a namespace path not the lab's (exit 2: nothing at all, not even -n).
printf 'netns add dl-%s-c\nnetns add dl-ffffff-x\nnetns add dl-%s-d\n' "$L" "$L" >"$O/other.batch"
case_ other "$D" "$L" -n "$O/other.batch"
case_ again "$D" "$L" -n "$O/ns.batch"
printf 'netns add dl-%s-e\n' "$L" >"$O/e.batch"
case_ notlab "$D" "$L" -n "$O/e.batch" -s /run/netns/dl-ffffff-x "$O/a.sysctl"
ls /run/netns >"$O/netns-after.txt"
rc=0
