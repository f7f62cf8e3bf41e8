#!/bin/bash
# PID 1 of a datapath-lab User-Mode Linux guest. The guest's root is the host's / (hostfs),
# so the job directory the host prepared is visible at the same path.
# Environment from the kernel command line: DL_JOB (job dir), DL_PHASE, DL_MODULES (comma list).
#
# Contract with the host (lab/runners/uml.ts): the agent's exit status goes to /proc/exitcode
# (linux.uml exits with it); a one-line JSON summary goes to the second console (/dev/tty1,
# host fd 3); evidence is written under $DL_JOB/out on hostfs. The host fails closed when the
# summary is missing.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
rc=12
# The compiled helper (native/dlinit.c, built by the runner) makes the same system calls as the
# commands below from one process at the start and one at the end; they are the fallback.
DLINIT=${0%/*}/../../.lab/dlinit
[[ -x $DLINIT ]] || DLINIT=""
finish() {
  [[ -n $DLINIT ]] && "$DLINIT" finish "$rc"   # does not return
  sync
  if [[ -w /dev/tty1 || -e /dev/tty1 ]]; then
    stty -F /dev/tty1 raw -echo 2>/dev/null
    printf '{"summary":true,"rc":%d,"kernel":"%s"}\n' "$rc" "$(uname -r)" >/dev/tty1 2>/dev/null
  fi
  echo "$rc" >/proc/exitcode
  poweroff -f -f
}
trap finish EXIT

# The plan's modules: dlinit loads them itself (finit_module, in modprobe's order) and leaves in
# /run/dl-job/out/modules-left what it could not (an alias, a failed load) for modprobe, which says why.
# It also points /proc/sys/kernel/modprobe at itself: the kernel's own module requests land in
# out/module-requests (a complete plan makes none) and are then served by modprobe.
mods=()
if [[ -n $DLINIT ]]; then
  "$DLINIT" setup "$DL_JOB"
  if [[ -r /run/dl-job/out/modules-left ]]; then read -r -a mods </run/dl-job/out/modules-left; else IFS=',' read -r -a mods <<<"${DL_MODULES:-}"; fi
else
  mount -t proc proc /proc
  mount -t sysfs sysfs /sys
  mount -t devtmpfs devtmpfs /dev 2>/dev/null
  [ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
  mount -t tmpfs tmpfs /run
  # One mkdir for every directory under /run, and the kernel release read, not run (uname): a
  # process costs 25-230 ms in here.
  mkdir -p /run/netns /run/dl-job /run/tmp
  read -r kver </proc/sys/kernel/osrelease
  # Never write the host's /lib/modules: overlay the UML module tree on a tmpfs.
  mount -t tmpfs tmpfs /lib/modules
  mkdir -p "/lib/modules/$kver"
  mount -t hostfs -o "/usr/lib/uml/modules/$kver" hostfs "/lib/modules/$kver"
  mount -t bpf bpf /sys/fs/bpf 2>/dev/null
  # The job dir gets a fixed short path in the guest (the agent resolves @JOB@ to it). A hostfs
  # mount of the host's path, not a bind: root's job lives under the host's /run/datapath-lab,
  # which the tmpfs above hides inside the guest.
  mount -t hostfs -o "$DL_JOB" hostfs /run/dl-job
  ip link set lo up
  IFS=',' read -r -a mods <<<"${DL_MODULES:-}"
fi
DL_JOB=/run/dl-job
# The lab's journal needs no fsync in here: what the guest makes dies with the guest.
export DL_JOURNAL_SYNC=0
# /tmp stays the host's: the repository and the job may live there (CI clones into /tmp).
# Temporary files of the guest's tools go to its own tmpfs instead.
export TMPDIR=/run/tmp

# One modprobe process for the whole list (a process costs 25-230 ms in here).
((${#mods[@]})) && modprobe -a "${mods[@]}" 2>>"$DL_JOB/out/modprobe.err"
# The UML kernel has no nf_tables for IPv4: iptables must be the legacy backend in here.
export DL_IPTABLES_RESTORE=iptables-legacy-restore DL_IPTABLES_SAVE=iptables-legacy-save

# One job (phase all): the guest powers off after it, which removes the lab with the guest's kernel.
[[ ${DL_PHASE:-all} == all ]] && export DL_GUEST_TEARDOWN=poweroff
# The agent runs in a subshell of this shell, not in a new bash: exec'ing bash and loading its
# libraries again costs ~150 ms in here (sourced in a subshell 160 ms, `bash agent.sh` 310-410 ms,
# medians of 10 under load). BASH_ARGV0 gives the agent its own $0 (the serve and queue loops start
# further agents as `bash "$0"`); a subshell does not keep this shell's EXIT trap (bash(1),
# COMMAND EXECUTION ENVIRONMENT), so the agent's exit comes back here as its status.
AGENT=${0%/*}/agent.sh
( BASH_ARGV0=$AGENT; source "$AGENT" "$DL_JOB" "${DL_PHASE:-all}" ) >"$DL_JOB/out/agent.log" 2>&1
rc=$?
