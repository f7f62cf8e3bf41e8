#!/bin/bash
# PID 1 of the User-Mode Linux guest of test/kernel/dlipt-uml.test.ts. Every value comes from the
# environment (the kernel command line: DL_DIR, DL_LAB, DL_DLIPT, DL_DLNSRUN), none is pasted into
# this script; everything it reads and writes is under DL_DIR (a host folder, hostfs here):
#   modules              the kernel modules to load, one a line
#   cases/N/steps        the case's restore files in build order, one a line: ipset|iptables FILE
#   → cases/N/build.{out,err}  dlnsrun's lines and messages for the case's restores
#   → cases/N/legacy.txt       `iptables-legacy-save -c` in the namespace (stdout and stderr)
#   → cases/N/dlipt.txt        dlipt's dump of it (one dlipt for every case)
#   → dlipt.{rc,err}, legacy.ms, dlipt.ms, and the refusal cases' refuse-*.{rc,err} and files
# Case N lives in namespace dl-$DL_LAB-N. The test compares; this script only runs and records.
# shellcheck source=guest-lib.sh
source "${BASH_SOURCE[0]%/*}/guest-lib.sh" || exit 1
guest_boot
D=${DL_DIR:?} L=${DL_LAB:?} DLIPT=${DL_DLIPT:?} NSRUN=${DL_DLNSRUN:?}
exec 2>"$D/guest.err"
mapfile -t mods <"$D/modules"
for m in "${mods[@]}"; do modprobe "$m" 2>>"$D/modprobe.err"; done

ms() { local t=${EPOCHREALTIME/./}; echo "${t:0:-3}"; }
cases=("$D"/cases/*)
cases=("${cases[@]##*/}")
for c in "${cases[@]}"; do echo "netns add dl-$L-$c"; done | ip -batch - || exit 1

# Each case's restores in its namespace, in build order (one dlnsrun per case, as the agent runs
# consecutive restore steps), with the counters the test wrote into the files (-c).
for c in "${cases[@]}"; do
  args=()
  while read -r tool file; do
    case $tool in
      ipset)    args+=("/run/netns/dl-$L-$c" - - - 4 ipset restore -file "$file") ;;
      iptables) args+=("/run/netns/dl-$L-$c" - - - 3 iptables-legacy-restore -c "$file") ;;
    esac
  done <"$D/cases/$c/steps"
  "$NSRUN" "${args[@]}" >"$D/cases/$c/build.out" 2>"$D/cases/$c/build.err"
done

# The reference: iptables-legacy-save -c in each namespace (stdout and stderr into the file, as
# the agent's dump), every one from one dlnsrun; then one dlipt for all of them.
args=() pairs=()
for c in "${cases[@]}"; do
  args+=("/run/netns/dl-$L-$c" - "$D/cases/$c/legacy.txt" = 2 iptables-legacy-save -c)
  pairs+=("/run/netns/dl-$L-$c" "$D/cases/$c/dlipt.txt")
done
t0=$(ms); "$NSRUN" -k "${args[@]}" >/dev/null 2>"$D/legacy.err"; t1=$(ms)
"$DLIPT" "$L" "${pairs[@]}" 2>"$D/dlipt.err"; echo $? >"$D/dlipt.rc"; t2=$(ms)
echo $((t1 - t0)) >"$D/legacy.ms"; echo $((t2 - t1)) >"$D/dlipt.ms"

# Refusals. Another lab's namespace in the list: exit 2, nothing written, not even the good pair's.
ip netns add dl-ffffff-other
first=${cases[0]}
"$DLIPT" "$L" "/run/netns/dl-$L-$first" "$D/refuse-mixed-good.txt" /run/netns/dl-ffffff-other "$D/refuse-mixed-other.txt" 2>"$D/refuse-mixed.err"
echo $? >"$D/refuse-mixed.rc"
"$DLIPT" "$L" "/run/netns/dl-$L-../dl-ffffff-other" "$D/refuse-dots.txt" 2>"$D/refuse-dots.err"
echo $? >"$D/refuse-dots.rc"
# A lab name that does not exist, then a good one: the first FILE says so, the second is written.
"$DLIPT" "$L" "/run/netns/dl-$L-gone" "$D/refuse-gone.txt" "/run/netns/dl-$L-$first" "$D/refuse-gone-next.txt" 2>"$D/refuse-gone.err"
echo $? >"$D/refuse-gone.rc"
# A lab name bound to the namespace dlipt starts in (this guest's own): refused, never dumped.
touch "/run/netns/dl-$L-home" && mount --bind /proc/self/ns/net "/run/netns/dl-$L-home"
"$DLIPT" "$L" "/run/netns/dl-$L-home" "$D/refuse-home.txt" 2>"$D/refuse-home.err"
echo $? >"$D/refuse-home.rc"
rc=0
