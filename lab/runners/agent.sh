#!/usr/bin/env bash
# datapath-lab agent: applies a compiled job inside whichever kernel the runner chose
# (native host, User-Mode Linux guest, container), runs the probes and writes raw evidence.
#
# Why a shell agent and not Node: inside UML a process start costs 25-230 ms and Node takes
# seconds to boot, so the host compiles everything (plan, batches, probe list) and this
# script only starts a handful of processes per namespace per tool. It never evaluates text
# from the job: every manifest line is split on TABs into an argv array and executed as such.
#
# usage: agent.sh JOBDIR [build|probe|teardown|all|up]
#   JOBDIR/manifest.tsv  build steps    (kind \t args...)
#   JOBDIR/probes.tsv    probe list     (see run_probes)
#   JOBDIR/namespaces    one lab namespace per line (where to capture)
#   JOBDIR/journal       the lab's journal (lab/state/journal.ts): before this script makes a
#                        namespace, a daemon, a control socket or a bpffs folder it appends a line
#                        naming it and flushes it to disk; teardown undoes those lines in reverse
#                        and nothing else. When a line cannot be written, nothing is made (exit 13).
#   JOBDIR/out/          everything this script produces
set -u
JOB=${1:?job dir}
PHASE=${2:-all}
OUT="$JOB/out"
# The host makes both when it writes the job (lab/runners/job.ts): no process unless one is missing.
[[ -d $OUT/capture && -d $OUT/dump ]] || mkdir -p "$OUT/capture" "$OUT/dump"
IPT_RESTORE=${DL_IPTABLES_RESTORE:-iptables-restore}
IPT_SAVE=${DL_IPTABLES_SAVE:-iptables-save}
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

now() { printf '%s' "${EPOCHREALTIME/,/.}"; }
# No command substitution here: in UML every fork costs milliseconds.
event() { printf '%s\t%s\n' "${EPOCHREALTIME/,/.}" "$*" >>"$OUT/events.tsv"; }
fail() { event "error	$*"; echo "agent: $*" >&2; exit 10; }
# pause SECONDS: a sleep without a process (a read that times out on a FIFO nobody writes to).
# A subshell that sources the agent again (lab test's queue, lab up's requests) keeps its
# parent's FIFO instead of making one more with a process (mkfifo).
TICK_FD=${TICK_FD:-}
pause() {
  if [[ -z $TICK_FD ]]; then
    [[ -p $OUT/.tick ]] || mkfifo "$OUT/.tick"
    exec {TICK_FD}<>"$OUT/.tick"
  fi
  read -r -t "$1" -u "$TICK_FD" _ || true
}

# --- journal -------------------------------------------------------------------------------
JOURNAL="$JOB/journal"
LAB=""
IFS=$'\t' read -r _ LAB _ <"$JOURNAL" 2>/dev/null
# (A queue directory holds no lab: each job it names is run by an agent of its own.)
[[ $LAB =~ ^[0-9a-f]{6}$ || $PHASE == queue ]] || { echo "agent: $JOURNAL does not start with a lab line" >&2; exit 10; }
JOURNAL_FAILED=""
# journal LINE...: appends TAB-separated lines and flushes them (coreutils `sync FILE` = fsync)
# before the caller makes what they name. DL_JOURNAL_SYNC=0 in a UML guest: its objects die with
# it, and a process there costs up to 230 ms.
journal() {
  if printf '%s\n' "$@" >>"$JOURNAL" && { [[ ${DL_JOURNAL_SYNC:-1} == 0 ]] || sync "$JOURNAL"; }; then return 0; fi
  JOURNAL_FAILED="cannot write the lab's journal $JOURNAL (disk full or not writable): nothing more is built"
  echo "agent: $JOURNAL_FAILED" >&2
  return 1
}
# The start time of a process (field 22 of /proc/PID/stat): a pid is acted on only with it. Set in
# PROC_START (empty when the process is gone), not printed: a command substitution forks, and a
# fork costs in UML.
PROC_START=""
proc_start() {
  local st
  PROC_START=""
  read -r st 2>/dev/null <"/proc/$1/stat" || return 1
  st=${st##*) }
  local -a sf
  read -r -a sf <<<"$st"
  PROC_START=${sf[19]}
}
kill_recorded() {  # PID START
  [[ $1 =~ ^[0-9]+$ && $2 =~ ^[0-9]+$ ]] || return 0
  proc_start "$1" && [[ $PROC_START == "$2" ]] && kill -9 "$1" 2>/dev/null
  return 0
}
is_lab_ns() { [[ $1 =~ ^dl-${LAB}-[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$ ]]; }
is_lab_ctl() { [[ $1 =~ ^/run/(.+)\.ctl$ ]] && is_lab_ns "${BASH_REMATCH[1]}"; }
is_lab_bpffs() { [[ ( $1 == "/sys/fs/bpf/dl-$LAB" || $1 == "/sys/fs/bpf/dl-$LAB/"* ) && $1 != *..* ]]; }
is_num() { [[ $1 =~ ^[0-9]+$ ]]; }

# The compiled helpers (native/*.c): next to the agent (container), via DL_<NAME>, or in the
# repo's .lab/ (built by the runner). dlcap: one capture process for every lab namespace (one
# pcapng stream); dlsysctl: every namespace's sysctls from one process; dlnsrun: many commands,
# each in its namespace, from one process (no `ip netns exec` per command); dlpod: every pod server
# of the lab from one process, and the probe client without `ip netns exec`; dlnet: every
# namespace's ip batch from one process speaking rtnetlink. Empty when missing: the agent then
# uses one tcpdump, one sysctl, one `ip netns exec`, one `ip -batch` per namespace, socat.
find_tool() {  # find_tool VAR NAME OVERRIDE (no command substitution: a fork costs in UML)
  local c here=${BASH_SOURCE[0]%/*}
  printf -v "$1" '%s' ""
  for c in "$3" "$here/$2" "$here/../../.lab/$2"; do
    [[ -n $c && -x $c ]] && { printf -v "$1" '%s' "$c"; return 0; }
  done
}
find_tool DLCAP dlcap "${DL_DLCAP:-}"
find_tool DLSYSCTL dlsysctl "${DL_DLSYSCTL:-}"
find_tool DLNSRUN dlnsrun "${DL_DLNSRUN:-}"
find_tool DLPOD dlpod "${DL_DLPOD:-}"
[[ ${DL_DLPOD:-} == off ]] && DLPOD=""   # socat servers and clients, as where dlpod cannot be built
find_tool DLNET dlnet "${DL_DLNET:-}"
find_tool DLIPVS dlipvs "${DL_DLIPVS:-}"   # every IPVS table of a build from one process (agent/build.sh)
[[ ${DL_DLIPVS:-} == off ]] && DLIPVS=""   # one ipvsadm -R per namespace, as without it
find_tool DLIPSET dlipset "${DL_DLIPSET:-}"   # every ipset of a build from one process (agent/build.sh)
[[ ${DL_DLIPSET:-} == off ]] && DLIPSET=""   # one ipset restore per namespace, as without it
find_tool DLDOWN dldown "${DL_DLDOWN:-}"   # the teardown from one process (agent/lifecycle.sh)
find_tool DLBIRD dlbird "${DL_DLBIRD:-}"   # BGP waits and BIRD dumps from one process (agent/build.sh, probe.sh)
find_tool DLBPF dlbpf "${DL_DLBPF:-}"      # the tc eBPF set-up and its map dumps from one process (agent/build.sh, probe.sh)
[[ ${DL_DLBPF:-} == off ]] && DLBPF=""     # bpftool and tc, one process per step, as where dlbpf cannot be built
# dlipt: a probe's iptables dumps from one process (agent/probe.sh dump_group). It reads the legacy
# tables (libip4tc), so only where the save tool is iptables-legacy-save (the UML guest); a host
# whose iptables is nft keeps one iptables-save per dump. DL_DLIPT=off forces that path anywhere.
find_tool DLIPT dlipt "${DL_DLIPT:-}"
[[ ${DL_DLIPT:-} == off || ${IPT_SAVE##*/} != iptables-legacy-save ]] && DLIPT=""

# The phases live in agent/*.sh, next to this script (bind-mounted beside it in a container).
AGENT_DIR=${BASH_SOURCE[0]%/*}/agent
# shellcheck source=agent/build.sh
source "$AGENT_DIR/build.sh" || exit 10
# shellcheck source=agent/groups.sh
source "$AGENT_DIR/groups.sh" || exit 10
# shellcheck source=agent/daemons.sh
source "$AGENT_DIR/daemons.sh" || exit 10
# shellcheck source=agent/ebpf.sh
source "$AGENT_DIR/ebpf.sh" || exit 10
# shellcheck source=agent/probe.sh
source "$AGENT_DIR/probe.sh" || exit 10
# shellcheck source=agent/lifecycle.sh
source "$AGENT_DIR/lifecycle.sh" || exit 10
# shellcheck source=agent/shell.sh
source "$AGENT_DIR/shell.sh" || exit 10

# The agent itself, so that `lab down` can stop an agent whose command was killed (native).
# BASHPID, not $$: in a UML guest the agent is a subshell of PID 1 (uml-init.sh), where $$ is 1.
record_agent() { proc_start "$BASHPID"; journal "agent	$BASHPID	$PROC_START" || exit 13; }

case "$PHASE" in
  queue)    queue ;;
  build)    record_agent; build ;;
  probe)    run_probes; if [[ -s $OUT/tool-error ]]; then exit 14; fi ;;
  teardown) teardown ;;
  up)       record_agent; build || { rc=$?; teardown; exit $((rc == 13 || rc == 14 ? rc : 11)); }; : >"$OUT/ready" ;;
  serve)    record_agent; serve ;;
  all)
    record_agent
    # A guest that runs this one job (uml-init.sh sets DL_GUEST_TEARDOWN=poweroff) powers off
    # right after: every object the journal names (namespaces, daemons, sockets, bpffs) lives in
    # the guest's kernel and dies with it, so replaying the journal in there would only delay the
    # poweroff. Everywhere else — native, container, the guest of lab test that runs many jobs —
    # the journal is replayed.
    # lab test's guest runs job after job, each torn down before the next is taken: a namespace of
    # another lab still here means a teardown did not finish, and this lab would not be clean.
    if [[ -n ${DL_ANSWER:-} ]]; then
      for p in /run/netns/dl-*; do
        [[ -e $p && $p != "/run/netns/dl-$LAB-"* ]] || continue
        printf 'the guest still holds %s of an earlier lab: its teardown did not finish (a broken run)\n' "${p#/run/netns/}" >"$OUT/build-error"
        exit 12
      done
    fi
    if [[ ${DL_GUEST_TEARDOWN:-} == poweroff ]]; then trap guest_teardown EXIT; else trap teardown EXIT; fi
    trap 'exit 143' TERM INT   # so that a stopped run still runs the EXIT trap (teardown)
    build || { rc=$?; exit $((rc == 13 || rc == 14 ? rc : 11)); }
    run_probes
    if [[ -s $OUT/tool-error ]]; then exit 14; fi   # a tool could not start: no verdict from this run
    # lab test's guest (agent/lifecycle.sh queue): the evidence is complete, so the host may judge
    # it while this lab is torn down — answered once the journal's items are read (the host then
    # removes the job folder, journal included), before the EXIT trap undoes them.
    if [[ -n ${DL_ANSWER:-} ]]; then teardown_items; event "evidence-done"; printf '0 %s\n' "${DL_KERNEL:-unknown}" >"$DL_ANSWER"; fi
    ;;
  *) fail "unknown phase $PHASE" ;;
esac
