#!/bin/bash
# PID 1 of the UML guest of dlbpf-uml.test.ts. Every value comes from the environment (the kernel
# command line: DL_OUT, DL_LAB, DL_AGENT — lab/runners/agent.sh —, DL_DLBPF_BIN, DL_MODULES,
# DL_PODS, DL_NODES), none is pasted into this script. $DL_OUT/off and $DL_OUT/on are the same
# compiled job (lab DL_LAB): each is built by the agent — with DL_DLBPF=off (bpftool and tc, one
# process per step), then with dlbpf — and recorded before it is torn down:
#   MODE.pins                 every pin under /sys/fs/bpf/dl-LAB: path, type, mode
#   MODE.maps/P.json          `bpftool -j map dump` of each pinned map (P: its path, / as _)
#   MODE.tc/POD.DIR           `tc filter show dev eth0 DIR` in each pod (DIR ingress, egress)
#   MODE.prog/POD.NAME.json   `bpftool -j prog show pinned` of the pod's two programs
#   MODE.build.rc, MODE.teardown.rc, MODE.left (what is left under the lab's bpffs folder after teardown)
# On the dlbpf build, the agent's probe phase runs twice on the same lab — its bpf dumps by bpftool
# (DL_DLBPF=off), then by dlbpf — into dump-off/ and dump-on/. Then the refusal cases: bad-NAME.{rc,err}.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t tmpfs tmpfs /run; mkdir -p /run/netns /run/tmp
mount -t bpf bpf /sys/fs/bpf
read -r kver </proc/sys/kernel/osrelease
mount -t tmpfs tmpfs /lib/modules; mkdir -p "/lib/modules/$kver"
mount -t hostfs -o "/usr/lib/uml/modules/$kver" hostfs "/lib/modules/$kver"
ip link set lo up
O=$DL_OUT L=$DL_LAB
IFS=',' read -r -a mods <<<"$DL_MODULES"
modprobe -a "${mods[@]}" 2>"$O/modprobe.err"
export DL_JOURNAL_SYNC=0 TMPDIR=/run/tmp DL_IPTABLES_RESTORE=iptables-legacy-restore DL_IPTABLES_SAVE=iptables-legacy-save
IFS=',' read -r -a pods <<<"$DL_PODS"
IFS=',' read -r -a nodes <<<"$DL_NODES"
exec 2>"$O/guest.err"
B=/sys/fs/bpf/dl-$L

record() {  # record MODE
  local m=$1 p pod d
  find "$B" -printf '%P %y %m\n' | sort >"$O/$m.pins"
  mkdir -p "$O/$m.maps" "$O/$m.tc" "$O/$m.prog"
  for p in "$B"/*/maps/*; do
    p=${p#"$B"/}
    bpftool -j map dump pinned "$B/$p" >"$O/$m.maps/${p//\//_}.json"
  done
  for pod in "${pods[@]}"; do
    for d in ingress egress; do tc -n "dl-$L-$pod" filter show dev eth0 "$d" >"$O/$m.tc/$pod.$d"; done
    for p in from_container to_container; do bpftool -j prog show pinned "$B/$pod/$p" >"$O/$m.prog/$pod.$p.json"; done
  done
}

for m in off on; do
  J=$O/$m
  if [[ $m == off ]]; then DL_DLBPF=off; else DL_DLBPF=$DL_DLBPF_BIN; fi
  export DL_DLBPF
  bash "$DL_AGENT" "$J" build >"$O/$m.build.log" 2>&1
  echo $? >"$O/$m.build.rc"
  record "$m"
  if [[ $m == on ]]; then
    DL_DLBPF=off bash "$DL_AGENT" "$J" probe >"$O/probe-off.log" 2>&1
    cp -r "$J/out/dump" "$O/dump-off"
    rm -f "$J"/out/dump/*
    DL_DLBPF=$DL_DLBPF_BIN bash "$DL_AGENT" "$J" probe >"$O/probe-on.log" 2>&1
    cp -r "$J/out/dump" "$O/dump-on"
    # dlbpf dump of every node next to bpftool's, of the same maps (nothing probes in between)
    for n in "${nodes[@]}"; do
      "$DL_DLBPF_BIN" dump "$L" "$B/$n/maps" "$O/direct-on.$n.txt"
      for x in lb4_services_v2 lb4_backends lb4_reverse_nat; do printf '# %s\n' "$x"; bpftool -j map dump pinned "$B/$n/maps/$x"; printf '\n'; done >"$O/direct-off.$n.txt" 2>&1
    done
  fi
  bash "$DL_AGENT" "$J" teardown >"$O/$m.teardown.log" 2>&1
  echo $? >"$O/$m.teardown.rc"
  ls -A "$B" >"$O/$m.left" 2>&1
done

# Refusals: each case a map batch or tc batch in a job folder; nothing may be made (exit 2, file:line).
bad() {  # bad NAME ARGS...: dlbpf setup LAB JOB 1 ARGS..., then what exists under the lab's folder
  local name=$1; shift
  "$DL_DLBPF_BIN" setup "$L" "$O/bad" 1 "$@" >"$O/bad-$name.out" 2>"$O/bad-$name.err"
  echo $? >"$O/bad-$name.rc"
  ls -A "$B" >"$O/bad-$name.left" 2>&1
}
bad outside-pin 4 host mkdir -p "$B/n1/maps" 5 host bpftool batch file "$O/bad/outside.batch"
bad malformed 4 host mkdir -p "$B/n1/maps" 5 host bpftool batch file "$O/bad/malformed.batch"
bad dotdot 4 host mkdir -p "$B/../dl-ffffff"
bad tc-outside 4 host mkdir -p "$B/n1" 5 nsenter "dl-$L-pod" tc -batch "$O/bad/outside.tc"
bad not-a-step 3 host rm -rf
bad foreign-ns 5 nsenter dl-ffffff-pod tc -batch "$O/bad/ok.tc"
"$DL_DLBPF_BIN" dump "$L" /sys/fs/bpf/other "$O/bad-dump.txt" 2>"$O/bad-dump.err"; echo $? >"$O/bad-dump.rc"
sync
echo 0 >/proc/exitcode
poweroff -f -f
