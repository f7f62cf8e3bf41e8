# datapath-lab agent — the build's step groups: consecutive manifest steps that one helper process
# runs (dlnsrun, dlnet, dlipvs/dlipset, dlbird, BIRD daemons by dlnsrun @bg), each step keeping its
# own step-end event and its own failure report. Sourced by ../agent.sh, which sets JOB, OUT, LAB,
# the journal and the helpers used here; never run on its own. build() (build.sh) picks the group.
# nsrun_group N LINE KIND NS FILE: appends manifest step N (its text LINE: ip, tc, iptables, ipset or
# ipvs) to the dlnsrun groups (native/dlnsrun.c: NSPATH IN OUT ERR ARGC ARG…) — the command run_step runs, in the
# namespace by setns instead of `ip netns exec` / `ip -n`. Fails (nothing added) for any other
# kind or a namespace that is not the lab's (a path under /run/netns is built from it).
NSRUN_ARGS=()
NSRUN_STEPS=()
NSRUN_LINES=()
nsrun_group() {
  local n=$1 line=$2 kind=$3 ns=${4:-} file="$JOB/${5:-}" e="$OUT/step.err"
  [[ -n ${5:-} ]] && is_lab_ns "$ns" || return 1
  case "$kind" in
    ip)       NSRUN_ARGS+=("/run/netns/$ns" - "$e" = 3 ip -batch "$file") ;;
    tc)       NSRUN_ARGS+=("/run/netns/$ns" - "$e" = 3 tc -batch "$file") ;;
    iptables) NSRUN_ARGS+=("/run/netns/$ns" - "$e" = 2 "$IPT_RESTORE" "$file") ;;
    ipset)    [[ -z $DLIPSET ]] || return 1   # dlipset takes them (dlipvs_group)
              NSRUN_ARGS+=("/run/netns/$ns" - "$e" = 4 ipset restore -file "$file") ;;
    ipvs)     [[ -z $DLIPVS ]] || return 1   # dlipvs takes them (dlipvs_group)
              NSRUN_ARGS+=("/run/netns/$ns" "$file" "$e" = 2 ipvsadm -R) ;;
    *)        return 1 ;;
  esac
  NSRUN_STEPS+=("$n	$kind	$ns")
  NSRUN_LINES+=("$line")
}

# server_group N LINE server NS NAME PROTO PORT FILE [SOCAT…]: appends a pod server (NS NAME
# PROTO PORT FILE; the socat form is the fallback's) to dlpod's list (daemons.sh pod_servers).
server_group() {
  local n=$1 line=$2 kind=$3
  [[ $kind == server ]] && (($# >= 8)) || return 1
  NSRUN_ARGS+=("${@:4:5}")
  NSRUN_STEPS+=("$n	$kind	$4")
  NSRUN_LINES+=("$line")
}

# sysctl_group N LINE sysctl NS FILE: appends a sysctl step to dlsysctl's list (NSPATH FILE pairs),
# where dlnet (which takes them otherwise) is missing.
sysctl_group() {
  local n=$1 line=$2 kind=$3 ns=${4:-} file=${5:-}
  [[ $kind == sysctl && -n $file ]] && is_lab_ns "$ns" || return 1
  NSRUN_ARGS+=("/run/netns/$ns" "$JOB/$file")
  NSRUN_STEPS+=("$n	$kind	$ns")
  NSRUN_LINES+=("$line")
}

# dlnet_group N LINE KIND NS FILE: appends manifest step N, an `ip` or a `sysctl` step, to dlnet's
# list (native/dlnet.c: NSPATH FILE items, applied from one process that speaks rtnetlink, no `ip`
# process per namespace; -s NSPATH FILE, a sysctl file). Fails (nothing added) for any other kind
# or a namespace not the lab's.
dlnet_group() {
  local n=$1 line=$2 kind=$3 ns=${4:-} file=${5:-}
  [[ ( $kind == ip || $kind == sysctl ) && -n $file ]] && is_lab_ns "$ns" || return 1
  if [[ $kind == sysctl ]]; then NSRUN_ARGS+=(-s "/run/netns/$ns" "$JOB/$file"); else NSRUN_ARGS+=("/run/netns/$ns" "$JOB/$file"); fi
  NSRUN_STEPS+=("$n	$kind	$ns")
  NSRUN_LINES+=("$line")
}

# dlipvs_group N LINE KIND NS FILE: appends manifest step N, an `ipvs` step, to dlipvs's list
# (native/dlipvs.c: NSPATH FILE pairs, every IPVS table loaded from one process speaking the
# kernel's IPVS generic netlink family, no `ipvsadm -R` per namespace) — or an `ipset` step to
# dlipset's (native/dlipset.c, the same for `ipset restore` over nfnetlink), the kind of the
# group's first step. Fails (nothing added) for another kind or a namespace not the lab's.
dlipvs_group() {
  local n=$1 line=$2 kind=$3 ns=${4:-} file=${5:-}
  [[ $kind == @(ipvs|ipset) && -n $file ]] && is_lab_ns "$ns" || return 1
  ((${#NSRUN_STEPS[@]} == 0)) || [[ ${NSRUN_STEPS[0]} == *"	$kind	"* ]] || return 1
  NSRUN_ARGS+=("/run/netns/$ns" "$JOB/$file")
  NSRUN_STEPS+=("$n	$kind	$ns")
  NSRUN_LINES+=("$line")
}

# daemon_group N LINE daemon NS NAME CTL ARGV...: appends manifest step N, a daemon (BIRD), to
# dlnsrun's list as "@bg ARGV…" — started in its namespace by setns, not waited for — so that a
# run of daemons costs one process start instead of a fork of this shell and an `ip netns exec`
# each (daemons_start). Fails (nothing added) for any other step, a namespace or control socket
# not the lab's, or a name that cannot be a file name; run_step then reports it.
daemon_group() {
  local n=$1 line=$2 kind=$3 ns=${4:-} name=${5:-} ctl=${6:-}
  [[ $kind == daemon ]] && (($# > 6)) && is_lab_ns "$ns" && [[ $name =~ ^[A-Za-z0-9_.-]+$ ]] || return 1
  [[ $ctl == - ]] || is_lab_ctl "$ctl" || return 1
  NSRUN_ARGS+=("/run/netns/$ns" /dev/null "$OUT/daemon-$name.log" = "$(($# - 5))" @bg "${@:7}")
  NSRUN_STEPS+=("$n	$kind	$ns	$name	$ctl")
  NSRUN_LINES+=("$line")
}

# daemons_start: the daemons daemon_group collected, from one dlnsrun. Each control socket is
# journalled before its daemon starts; each daemon (pid and start time) as soon as dlnsrun names
# it — a daemon that cannot be journalled is killed, and so is every one after it.
daemons_start() {
  local s idx st end pid k n ns name ctl a rc
  local -a w
  for s in "${NSRUN_STEPS[@]}"; do
    IFS=$'\t' read -r n _ ns name ctl <<<"$s"
    [[ $ctl == - ]] || journal "ctl	$ctl" || return 13
  done
  "$DLNSRUN" "${NSRUN_ARGS[@]}" >"$OUT/nsrun.status" 2>"$OUT/nsrun.err"
  rc=$?
  local -a started=()
  while IFS=$'\t' read -r idx st end pid; do
    [[ $st == 0 ]] && is_num "$pid" && started+=("$idx" "$end" "$pid")
  done <"$OUT/nsrun.status"
  for ((k = 0; k < ${#started[@]}; k += 3)); do
    idx=${started[k]} end=${started[k + 1]} pid=${started[k + 2]}
    IFS=$'\t' read -r n _ ns name ctl <<<"${NSRUN_STEPS[idx - 1]}"
    proc_start "$pid"
    if ! journal "daemon	$name	$pid	$PROC_START"; then
      for ((; k < ${#started[@]}; k += 3)); do kill -9 "${started[k + 2]}" 2>/dev/null; done
      return 13
    fi
    echo "$pid" >>"$OUT/daemons.pid"
    # A socat server among them (the fallback's `server` lines are daemons too): probes wait for it.
    IFS=$'\t' read -r -a w <<<"${NSRUN_LINES[idx - 1]}"
    for a in "${w[@]:4}"; do [[ $a =~ ^(TCP|UDP|SCTP)[46]?-(LISTEN|RECVFROM):([0-9]+) ]] && LISTENERS+=("$pid	$ns	${BASH_REMATCH[3]}	${BASH_REMATCH[1]}"); done
    steps+="$end	daemon-start	$name"$'\n'"$end	step-end	$n	daemon	$ns"$'\n'
  done
  ((rc == 0 && ${#started[@]} == 3 * ${#NSRUN_STEPS[@]})) && return 0
  cat "$OUT/nsrun.err" >>"$OUT/step.err"
  fail_step "${NSRUN_STEPS[${#started[@]} / 3]%%	*}" "${NSRUN_LINES[${#started[@]} / 3]}" || return 14
  return 1
}

# group_more ADD: after build()'s step i went to a group, the steps that follow it while ADD
# (a *_group function of this file) takes them; moves build()'s i and n past them.
group_more() {
  local -a g
  for ((j = i + 1; j < ${#lines[@]}; j++)); do
    IFS=$'\t' read -r -a g <<<"${lines[j]}"
    g=("${g[@]//@JOB@/$JOB}")
    "$1" "$((n + 1))" "${lines[j]}" "${g[@]}" || break
    n=$((n + 1))
  done
  i=$((j - 1))
}

# nsrun_steps CMD...: runs the groups with CMD (dlnsrun, dlnet LAB, dlipvs LAB or dlbird wait); one step-end event per step
# that ran (its own end time); the first failure is the build's failure, reported as run_step's
# would be.
nsrun_steps() {
  local idx st end k failed=""
  "$@" "${NSRUN_ARGS[@]}" >"$OUT/nsrun.status" 2>"$OUT/nsrun.err"
  local rc=$?
  while IFS=$'\t' read -r idx st end _; do
    k=$((idx - 1))
    steps+="$end	step-end	${NSRUN_STEPS[k]}"$'\n'
    ((st == 0)) || failed=$k
  done <"$OUT/nsrun.status"
  ((rc == 0)) && return 0
  cat "$OUT/nsrun.err" >>"$OUT/step.err"
  [[ -n $failed ]] || failed=0
  fail_step "${NSRUN_STEPS[failed]%%	*}" "${NSRUN_LINES[failed]}" || return 14
  return 1
}

# bgp_events: a bgp-converged event (time, namespace, start of the wait) per speaker dlbird saw
# converge, from its status lines (INDEX RC END T0), as wait_bgp writes them.
bgp_events() {
  local idx st end t0 ev=""
  while IFS=$'\t' read -r idx st end t0; do
    [[ $st == 0 && $idx =~ ^[0-9]+$ ]] || continue
    ev+="$end	bgp-converged	${NSRUN_STEPS[idx - 1]##*	}	$t0"$'\n'
  done <"$OUT/nsrun.status"
  printf '%s' "$ev" >>"$OUT/events.tsv"
}
