# datapath-lab agent — the build (manifest steps, host steps, broken tools; the step groups in groups.sh, the daemons in daemons.sh). Sourced by ../agent.sh, which sets JOB, OUT, LAB,
# the journal and the helpers used here; never run on its own.
# --- build -------------------------------------------------------------------------------
run_step() {
  local kind=$1; shift
  case "$kind" in
    netns)      journal_netns "$JOB/$1" && ip -batch "$JOB/$1" ;;        # netns add lines only
    ip)         ip -n "$1" -batch "$JOB/$2" ;;
    tc)         tc -n "$1" -batch "$JOB/$2" ;;
    sysctl)     ip netns exec "$1" sysctl -q -p "$JOB/$2" >/dev/null ;;
    iptables)   ip netns exec "$1" "$IPT_RESTORE" "$JOB/$2" ;;
    ipset)      ip netns exec "$1" ipset restore -file "$JOB/$2" ;;
    ipvs)       ip netns exec "$1" ipvsadm -R <"$JOB/$2" ;;
    exec)       local ns=$1; shift; ip netns exec "$ns" "$@" ;;
    nsenter)    local ns=$1; shift; nsenter --net="/run/netns/$ns" "$@" ;;
    host)       host_step "$@" ;;
    daemon)     local ns=$1 name=$2 ctl=$3 a; shift 3
                [[ $ctl == - ]] || { is_lab_ctl "$ctl" || { echo "control socket $ctl is not the lab's" >&2; return 2; }; journal "ctl	$ctl" || return 13; }
                ip netns exec "$ns" "$@" >"$OUT/daemon-$name.log" 2>&1 </dev/null &
                local dpid=$!
                proc_start "$dpid"
                journal "daemon	$name	$dpid	$PROC_START" || { kill -9 "$dpid"; return 13; }
                echo "$dpid" >>"$OUT/daemons.pid"
                for a in "$@"; do [[ $a =~ ^(TCP|UDP|SCTP)[46]?-(LISTEN|RECVFROM):([0-9]+) ]] && LISTENERS+=("$dpid	$ns	${BASH_REMATCH[3]}	${BASH_REMATCH[1]}"); done
                printf '%s\tdaemon-start\t%s\n' "${EPOCHREALTIME/,/.}" "$name" >>"$OUT/events.tsv" ;;
    server)     run_step daemon "$1" "$2" - "${@:6}" ;;   # a pod server without dlpod: its socat form
    servers)    pod_servers "$@" ;;
    sleep)      is_num "$1" || { echo "sleep: not a number: $1" >&2; return 2; }; sleep "$1" ;;
    waitfile)   is_num "$2" || { echo "waitfile: seconds not a number: $2" >&2; return 2; }
                local i; for ((i = 0; i < $2 * 50; i++)); do [[ -s $JOB/$1 ]] && return 0; pause 0.02; done; return 1 ;;
    waitbgp)    wait_bgp "$@" ;;
    *)          echo "unknown step kind: $kind" >&2; return 2 ;;
  esac
}

# journal_netns BATCH: every `netns add NAME` of the batch must be a lab namespace; all of them
# are journalled (one flush) before the batch runs.
journal_netns() {
  local line w1 w2 name extra
  local -a lines=()
  while read -r w1 w2 name extra || [[ -n $w1 ]]; do
    [[ -z $w1 ]] && continue
    [[ $w1 == netns && $w2 == add && -z $extra ]] && is_lab_ns "$name" || { echo "netns batch line is not \"netns add dl-$LAB-…\": $w1 $w2 $name $extra" >&2; return 2; }
    lines+=("netns	$name")
  done <"$1"
  ((${#lines[@]})) || return 0
  journal "${lines[@]}" || return 13
}

# host STEP...: the only host-side (root namespace) commands a job may ask for, each checked:
#   mkdir -p DIR...              bpffs folders under /sys/fs/bpf/dl-LAB (journalled first)
#   bpftool prog loadall OBJ DIR ...  pins under /sys/fs/bpf/dl-LAB
#   bpftool batch file FILE      a batch in the job folder whose pin paths are all the lab's
#   bash BUILD_BPF OUTDIR        the repository's scripts/build-bpf.sh (compiles bpf/lb4.c)
# Anything else is refused: a job is data, never a root shell.
# lab/runners, absolute (no command substitution when the agent was started by its absolute path)
if [[ $AGENT_DIR == /* && $AGENT_DIR != *..* ]]; then HERE=${AGENT_DIR%/agent}; else HERE=$(cd "$AGENT_DIR/.." && pwd); fi
BUILD_BPF="${HERE%/lab/runners}/scripts/build-bpf.sh"
host_step() {
  local a
  case "${1:-} ${2:-}" in
    "mkdir -p")
      shift 2
      for a in "$@"; do is_lab_bpffs "$a" || { echo "host mkdir outside the lab's bpffs folder: $a" >&2; return 2; }; done
      journal "bpffs	/sys/fs/bpf/dl-$LAB" || return 13
      mkdir -p -- "$@" ;;
    "bpftool prog")
      [[ ${3:-} == loadall ]] || { echo "host bpftool prog ${3:-}: not allowed" >&2; return 2; }
      for a in "${@:5}"; do [[ $a != /sys/fs/bpf/* ]] || is_lab_bpffs "$a" || { echo "host bpftool pin outside the lab: $a" >&2; return 2; }; done
      is_lab_bpffs "${5:-}" || { echo "host bpftool loadall pins outside the lab: ${5:-}" >&2; return 2; }
      "$@" ;;
    "bpftool batch")
      [[ ${3:-} == file && ${4:-} == "$JOB"/* && $# -eq 4 ]] || { echo "host bpftool batch: only a file of the job" >&2; return 2; }
      local w
      local -a ws
      while read -r -a ws; do
        for w in "${ws[@]}"; do [[ $w != /sys/fs/bpf/* ]] || is_lab_bpffs "$w" || { echo "bpftool batch names a pin outside the lab: $w" >&2; return 2; }; done
      done <"$4"
      "$@" ;;
    "bash $BUILD_BPF")
      (($# == 3)) || { echo "host build-bpf: one output folder" >&2; return 2; }
      "$@" ;;
    *) echo "host step not allowed: ${1:-} ${2:-}" >&2; return 2 ;;
  esac
}

# --- broken tools ---------------------------------------------------------------------------
# A tool in the lab that cannot start — the loader cannot open its libraries (an fd limit: "Error
# 24"), no memory, not installed — makes the run broken (exit 14), never a datapath verdict such
# as "reachable: no". The first such message, with where it was seen, goes to out/tool-error.
TOOL_BROKEN='error while loading shared libraries|cannot execute|Too many open files|Cannot allocate memory|exec of .* failed|command not found'
tool_failures() {
  local f line
  for f in "$@"; do
    [[ -s $f ]] || continue
    while IFS= read -r line; do
      [[ $line =~ $TOOL_BROKEN ]] || continue
      printf '%s (seen in %s)\n' "$line" "${f##*/}" >"$OUT/tool-error"
      return 1
    done <"$f"
  done
  return 0
}

# step_failed N LINES: the build's status after step N failed — 13 when the journal could not be
# written (nothing more is built), 14 when a tool could not start, else 1 (fail_step's record).
step_failed() {
  [[ -n $JOURNAL_FAILED ]] && { printf '%s\n' "$JOURNAL_FAILED" >"$OUT/build-error"; return 13; }
  fail_step "$1" "$2" || return 14
  return 1
}

# fail_step N LINES: records a failed step (its manifest lines) and what it printed.
fail_step() {
  event "step-failed	$1	$2"
  cat "$OUT/step.err" >&2
  printf 'step %d failed: %s\n' "$1" "$2" >"$OUT/build-error"
  cat "$OUT/step.err" >>"$OUT/build-error"
  tool_failures "$OUT/step.err" || return 14
}

build() {
  event "build-start"
  local n=0 i j line steps=""
  local -a lines=() f
  mapfile -t lines <"$JOB/manifest.tsv"
  for ((i = 0; i < ${#lines[@]}; i++)); do
    line=${lines[i]}
    [[ -z $line || $line == \#* ]] && continue
    n=$((n + 1))
    IFS=$'\t' read -r -a f <<<"$line"
    # @JOB@ stands for the job directory, whose path differs between host and guest.
    f=("${f[@]//@JOB@/$JOB}")
    if [[ ${f[0]} == netns && -n $DLNET ]]; then
      # The namespaces (journalled first), then the sysctl and ip steps that follow them, from
      # one dlnet process (-n FILE: each `netns add` as ip makes it) instead of ip, dlsysctl, dlnet.
      journal_netns "$JOB/${f[1]}" 2>"$OUT/step.err" || { step_failed "$n" "$line"; return $?; }
      NSRUN_ARGS=(-n "$JOB/${f[1]}") NSRUN_STEPS=("$n	netns	${f[1]}") NSRUN_LINES=("$line")
      group_more dlnet_group
      nsrun_steps "$DLNET" "$LAB" || return $?
      [[ $PHASE == all && -s $JOB/probes.tsv && -n $DLCAP ]] && start_captures
      continue
    elif [[ ${f[0]} == server && -n $DLPOD ]] && NSRUN_ARGS=() NSRUN_STEPS=() NSRUN_LINES=() && server_group "$n" "$line" "${f[@]}"; then
      # Consecutive pod servers: one dlpod process for all of them (daemons.sh pod_servers).
      group_more server_group
      pod_servers "$n" "${NSRUN_ARGS[@]}" 2>"$OUT/step.err" || { step_failed "$n" "${NSRUN_LINES[*]}"; return $?; }
      steps+="${EPOCHREALTIME/,/.}	step-end	$n	servers	$n"$'\n'
      continue
    elif [[ ( ${f[0]} == ip || ${f[0]} == sysctl ) && -n $DLNET ]] && NSRUN_ARGS=() NSRUN_STEPS=() NSRUN_LINES=() && dlnet_group "$n" "$line" "${f[@]}"; then
      # Consecutive ip steps (a batch per namespace) and sysctl steps applied by one process
      # (dlnet), in order.
      group_more dlnet_group
      nsrun_steps "$DLNET" "$LAB" || return $?
      continue
    elif [[ ${f[0]} == sysctl && -n $DLSYSCTL ]] && NSRUN_ARGS=() NSRUN_STEPS=() NSRUN_LINES=() && sysctl_group "$n" "$line" "${f[@]}"; then
      # Without dlnet: consecutive sysctl steps (one per namespace) from one dlsysctl.
      group_more sysctl_group
      "$DLSYSCTL" "${NSRUN_ARGS[@]}" 2>"$OUT/step.err" || { step_failed "$n" "${NSRUN_LINES[*]}"; return $?; }
      steps+="${EPOCHREALTIME/,/.}	step-end	$n	sysctl	${f[1]}"$'\n'
      continue
    elif [[ (${f[0]} == ipvs && -n $DLIPVS) || (${f[0]} == ipset && -n $DLIPSET) ]] && NSRUN_ARGS=() NSRUN_STEPS=() NSRUN_LINES=() && dlipvs_group "$n" "$line" "${f[@]}"; then
      # Consecutive ipvs steps (a table per namespace) loaded by one process (dlipvs), or ipset
      # steps by one dlipset, in order (nsrun_group leaves those steps to them).
      group_more dlipvs_group
      if [[ ${f[0]} == ipvs ]]; then nsrun_steps "$DLIPVS" "$LAB" || return $?; else nsrun_steps "$DLIPSET" "$LAB" || return $?; fi
      continue
    elif [[ ${f[0]} == waitbgp && -n $DLBIRD ]] && NSRUN_ARGS=() NSRUN_STEPS=() NSRUN_LINES=() && bgp_group "$n" "$line" "${f[@]}"; then
      # Consecutive BGP waits (one per speaker) polled together by one process (dlbird); its
      # status lines carry each speaker's bgp-converged event (the shell wait's format).
      group_more bgp_group
      nsrun_steps "$DLBIRD" wait || { local rc=$?; bgp_events; return $rc; }
      bgp_events
      continue
    elif [[ ${f[0]} == daemon && -n $DLNSRUN ]] && NSRUN_ARGS=() NSRUN_STEPS=() NSRUN_LINES=() && daemon_group "$n" "$line" "${f[@]}"; then
      # Consecutive daemons (a BIRD per speaker) started by one process (dlnsrun @bg).
      group_more daemon_group
      daemons_start || return $?
      continue
    elif [[ -n $DLBPF ]] && NSRUN_ARGS=() NSRUN_STEPS=() NSRUN_LINES=() && bpf_group "$n" "$line" "${f[@]}"; then
      bpf_setup || return $?   # the eBPF set-up's consecutive steps from one dlbpf (agent/ebpf.sh)
      continue
    elif [[ -n $DLNSRUN ]] && NSRUN_ARGS=() NSRUN_STEPS=() NSRUN_LINES=() && nsrun_group "$n" "$line" "${f[@]}"; then
      # Consecutive ip, tc, iptables, ipset and ipvs steps in one process (dlnsrun), in order.
      group_more nsrun_group
      nsrun_steps "$DLNSRUN" || return $?
      continue
    elif ! run_step "${f[@]}" 2>"$OUT/step.err"; then
      step_failed "$n" "$line"
      return $?
    fi
    # The namespaces exist: the capture opens its sockets while the rest of the build runs.
    [[ ${f[0]} == netns && $PHASE == all && -s $JOB/probes.tsv && -n $DLCAP ]] && start_captures
    steps+="${EPOCHREALTIME/,/.}	step-end	$n	${f[0]}	${f[1]:-}"$'\n'
  done
  # Per-step end times (for the bench's phase split), written once: hostfs writes are not free.
  printf '%s' "$steps" >>"$OUT/events.tsv"
  event "build-end	$n"
}
