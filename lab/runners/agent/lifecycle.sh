# datapath-lab agent — teardown by the journal, the serve loop of a lab left up, the queue of lab test. Sourced by ../agent.sh, which sets JOB, OUT, LAB,
# the journal and the helpers used here; never run on its own.
# --- teardown ----------------------------------------------------------------------------
# Replays the journal in reverse and undoes what it names — and nothing else: daemons (by pid
# and start time), control sockets, bpffs folders, namespaces (each value checked against the
# lab id first). Processes inside a journalled namespace are killed before it is deleted: which
# ones, by comparing each process's netns inode with the namespaces'. The checked items go, in
# the journal's reverse order, to dldown (native/dldown.c): the whole teardown in one process.
# Without it, undo_items: an `rm` per socket and folder, three processes per run of namespaces.
# Nothing is written to disk on the way (the disk may be full).
# teardown_items: the journal's checked items, read once into TEARDOWN_ITEMS (lab test's guest
# reads them before it answers the host, which then removes the job folder and its journal).
TEARDOWN_ITEMS=()
TEARDOWN_READ=""
teardown_items() {
  [[ -n $TEARDOWN_READ ]] && return 0
  TEARDOWN_READ=1
  local -a lines=() f
  mapfile -t lines <"$JOURNAL" 2>/dev/null
  local i
  for ((i = ${#lines[@]} - 1; i >= 0; i--)); do
    IFS=$'\t' read -r -a f <<<"${lines[i]}"
    case ${f[0]:-} in
      netns)  is_lab_ns "${f[1]:-}" && [[ -e /run/netns/${f[1]} ]] && TEARDOWN_ITEMS+=(n "/run/netns/${f[1]}") ;;
      daemon) is_num "${f[2]:-}" && is_num "${f[3]:-}" && TEARDOWN_ITEMS+=(k "${f[2]}" "${f[3]}") ;;
      ctl)    is_lab_ctl "${f[1]:-}" && TEARDOWN_ITEMS+=(u "${f[1]}") ;;
      bpffs)  is_lab_bpffs "${f[1]:-}" && [[ -d ${f[1]} ]] && TEARDOWN_ITEMS+=(r "${f[1]}") ;;
    esac
  done
}

teardown() {
  event "teardown-start" 2>/dev/null
  local p
  for p in "${CAP_PIDS[@]}"; do kill -INT "$p" 2>/dev/null; done
  teardown_items
  if ((${#TEARDOWN_ITEMS[@]})); then
    if [[ -n $DLDOWN ]]; then "$DLDOWN" "${TEARDOWN_ITEMS[@]}"; else undo_items "${TEARDOWN_ITEMS[@]}"; fi
  fi
  wait 2>/dev/null
  event "teardown-end" 2>/dev/null
}

# undo_items ITEM...: what dldown does (k PID START | u SOCKET | r FOLDER | n NETNS-PATH), with
# the shell and one process per tool; a run of namespaces is flushed together.
undo_items() {
  NSS=()
  while (($#)); do
    [[ $1 == n ]] || flush_netns
    case $1 in
      k) kill_recorded "$2" "$3"; shift 3; continue ;;
      u) rm -f -- "$2" ;;
      r) rm -rf -- "$2" ;;
      n) NSS+=("$2") ;;
    esac
    shift 2
  done
  flush_netns
}

# The teardown of a one-job guest: the guest's poweroff (uml-init.sh, after this agent exits)
# removes the lab with the guest's kernel. The capture is stopped so its stream ends whole.
guest_teardown() {
  event "teardown-start	poweroff"
  local p
  for p in "${CAP_PIDS[@]}"; do kill -INT "$p" 2>/dev/null; done
  event "teardown-end"
}

flush_netns() {
  ((${#NSS[@]})) || return 0
  declare -A lab_ino=()
  local ino name pdir target
  while read -r ino name; do lab_ino[$ino]=1; done < <(stat -L -c '%i %n' "${NSS[@]}" 2>/dev/null)
  local -a victims=()
  while read -r pdir target; do
    target=${target#net:[}; target=${target%]}
    pdir=${pdir#/proc/}
    [[ -n $target && -n ${lab_ino[$target]:-} ]] && victims+=("${pdir%/ns}")
  done < <(find /proc -mindepth 3 -maxdepth 3 -path '/proc/[0-9]*/ns/net' -printf '%h %l\n' 2>/dev/null)
  ((${#victims[@]})) && kill -9 "${victims[@]}" 2>/dev/null
  printf 'netns delete %s\n' "${NSS[@]##*/}" | ip -force -batch - 2>/dev/null
  NSS=()
}

# --- serve: a lab left up inside a guest (UML), reached through a control directory -------
# The host drops requests into $JOB/ctl/<id>.req (NUL-separated argv: "exec" NS ARGV… | "shell"
# NS tty|pipe ROWS COLS OBJECT | "agent" PHASE | "down"),
# the agent runs them and leaves <id>.out (output, written as it comes), <id>.rc (exit status).
# <id>.stop asks to stop a running request (a capture). Polling costs no process: `read -t` on
# a FIFO nobody writes to.
serve() {
  build || { local rc=$?; teardown; return $((rc == 13 || rc == 14 ? rc : 11)); }
  local ctl="$JOB/ctl"
  mkdir -p "$ctl"
  : >"$OUT/ready"   # only once requests can be dropped
  [[ -p $OUT/.tick ]] || mkfifo "$OUT/.tick"
  exec 9<>"$OUT/.tick"
  declare -A running=()
  local req id
  while :; do
    for req in "$ctl"/*.req; do
      [[ -e $req ]] || continue
      id=${req##*/}; id=${id%.req}
      mv "$req" "$ctl/$id.run"
      local -a argv=()
      mapfile -d '' -t argv <"$ctl/$id.run"
      case "${argv[0]:-}" in
        down)
          local r
          for r in "${running[@]}"; do pkill -P "$r" 2>/dev/null; kill "$r" 2>/dev/null; done
          teardown
          printf '0\n' >"$ctl/$id.rc"
          return 0 ;;
        exec)
          ( ip netns exec "${argv[1]}" "${argv[@]:2}" >"$ctl/$id.out" 2>&1 </dev/null
            printf '%s\n' "$?" >"$ctl/$id.rc.tmp"; mv "$ctl/$id.rc.tmp" "$ctl/$id.rc" ) &
          running[$id]=$! ;;
        shell)   # `lab shell`: a terminal on a console, or commands from a pipe (agent/shell.sh)
          ( shell_session "$id" "${argv[1]:-}" "${argv[2]:-}" "${argv[3]:-}" "${argv[4]:-}" "${argv[5]:-}" ) &
          running[$id]=$! ;;
        agent)   # run one of this script's phases on the lab (e.g. probe), synchronously
          ( BASH_ARGV0=$0; source "$0" "$JOB" "${argv[1]}" ) >"$ctl/$id.out" 2>&1   # a subshell, as in queue
          printf '%s\n' "$?" >"$ctl/$id.rc" ;;
        *) printf 'unknown request\n' >"$ctl/$id.out"; printf '2\n' >"$ctl/$id.rc" ;;
      esac
    done
    for req in "$ctl"/*.stop; do
      [[ -e $req ]] || continue
      id=${req##*/}; id=${id%.stop}
      [[ -n ${running[$id]:-} ]] && pkill -INT -P "${running[$id]}" 2>/dev/null
      rm -f "$req"
    done
    for id in "${!running[@]}"; do [[ -e $ctl/$id.rc ]] && unset "running[$id]"; done
    read -r -t 0.2 -u 9 _ || true
  done
}

# --- queue: a guest that runs many jobs in turn (lab test: one boot per worker) -------------
# JOB is the queue directory; DL_QROOT the host's state directory, which holds the jobs (hostfs
# mounted once, at /run/dl-state: root's lives under the host's /run, hidden by the guest's).
# The host drops <n>.req files holding a job's path relative to it; each job runs in a fresh agent
# process (a clean lab: built, probed, torn down), its status and the kernel go to <n>.rc. The
# file QUEUE/stop ends the loop, and so do 120 s without a request (a host that died never asks
# again). No process is spent on polling.
queue() {
  local q=$JOB req id rel dir kernel rc last=$EPOCHSECONDS root=/run/dl-state
  declare -A seen=()
  read -r kernel </proc/sys/kernel/osrelease
  mkdir -p "$root" && mount -t hostfs -o "${DL_QROOT:?}" hostfs "$root" || return 10
  : >"$q/ready"
  while [[ ! -e $q/stop ]] && ((EPOCHSECONDS - last < 120)); do
    for req in "$q"/*.req; do
      [[ -e $req ]] || continue
      id=${req##*/}; id=${id%.req}
      [[ -n ${seen[$id]:-} ]] && continue
      seen[$id]=1
      read -r rel <"$req"
      dir=$root/$rel
      [[ $rel != *..* && -d $dir/out ]] || { printf '10 %s\n' "$kernel" >"$q/$id.rc"; continue; }
      # Each job in a subshell that sources the agent afresh (its own JOB, LAB, traps and exit),
      # not a new bash: exec'ing bash costs ~150-300 ms in the guest, once per scenario of
      # `lab test` (as uml-init.sh starts the first agent). The guest lives on: teardown by the journal.
      # A job that completes answers itself (DL_ANSWER) before its teardown; the others are
      # answered here with the agent's status.
      ( BASH_ARGV0=$0; DL_GUEST_TEARDOWN=; DL_ANSWER=$q/$id.rc; DL_KERNEL=$kernel; source "$0" "$dir" all ) >"$dir/out/agent.log" 2>&1
      rc=$?
      [[ -s $q/$id.rc ]] || printf '%s %s\n' "$rc" "$kernel" >"$q/$id.rc"
      last=$EPOCHSECONDS
    done
    pause 0.005   # a request waits at most 5 ms
  done
  umount "$root"
}
