# datapath-lab agent — the build (manifest steps, host steps, BGP waits, broken tools). Sourced by ../agent.sh, which sets JOB, OUT, LAB,
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

# pod_servers N (NS NAME PROTO PORT FILE)...: consecutive pod servers (manifest `server` lines)
# from one process, `dlpod serve` (native/dlpod.c: a socket opened in each lab namespace by setns,
# one epoll loop), journalled as one daemon; it prints "ready" once every socket listens.
PODSRV=()
pod_servers() {
  local n=$1 ns file
  local -a args=()
  shift
  while (($# >= 5)); do
    ns=$1 file=$5
    is_lab_ns "$ns" || { echo "server: $ns is not a lab namespace" >&2; return 2; }
    [[ $file == "$JOB"/files/* && $file != *..* ]] || { echo "server: reply file outside the job: $file" >&2; return 2; }
    args+=("/run/netns/$ns" "$3" "$4" "$file")
    shift 5
  done
  (($# == 0 && ${#args[@]})) || { echo "servers: want NS NAME PROTO PORT FILE groups" >&2; return 2; }
  "$DLPOD" serve "$LAB" "${args[@]}" >"$OUT/podsrv-$n.ready" 2>"$OUT/daemon-podsrv-$n.log" </dev/null &
  local dpid=$!
  proc_start "$dpid"
  journal "daemon	podsrv-$n	$dpid	$PROC_START" || { kill -9 "$dpid"; return 13; }
  echo "$dpid" >>"$OUT/daemons.pid"
  PODSRV+=("$dpid	$OUT/podsrv-$n.ready")
  event "daemon-start	podsrv-$n	$((${#args[@]} / 4))"
}

# Servers the build started (pid, namespace, port, TCP|UDP|SCTP): probes wait until each listens,
# read from /proc/PID/net/{tcp,udp,sctp/eps} (the daemon's own namespace, once it is in the lab's)
# without a process: a TCP socket in LISTEN (0A), a UDP socket bound (07, unconnected), an SCTP
# endpoint on the port (its LPORT column is decimal).
LISTENERS=()
wait_listeners() {
  local entry pid ns port proto hex deadline=$((EPOCHSECONDS + 10)) sl local rem st rest up
  local -a w
  for entry in "${LISTENERS[@]}"; do
    IFS=$'\t' read -r pid ns port proto <<<"$entry"
    printf -v hex ':%04X' "$port"
    up=0
    while ((EPOCHSECONDS <= deadline)); do
      [[ -d /proc/$pid ]] || break
      if [[ /proc/$pid/ns/net -ef /run/netns/$ns ]]; then
        case $proto in
          UDP)  while read -r sl local rem st rest; do
                  [[ $st == 07 && $local == *"$hex" ]] && { up=1; break; }
                done <"/proc/$pid/net/udp" ;;
          SCTP) [[ -r /proc/$pid/net/sctp/eps ]] && while read -r -a w; do
                  [[ ${w[5]:-} == "$port" ]] && { up=1; break; }
                done <"/proc/$pid/net/sctp/eps" ;;
          *)    while read -r sl local rem st rest; do
                  [[ $st == 0A && $local == *"$hex" ]] && { up=1; break; }
                done <"/proc/$pid/net/tcp" ;;
        esac
      fi
      ((up)) && break
      pause 0.01
    done
    ((up)) || event "listener-not-ready	$ns	$port	$proto"
  done
  LISTENERS=()
  # dlpod: until it prints "ready" (a read of its stdout file, no process), or it is gone.
  local file line
  for entry in "${PODSRV[@]}"; do
    IFS=$'\t' read -r pid file <<<"$entry"
    up=0
    while ((EPOCHSECONDS <= deadline)); do
      line=""
      read -r line 2>/dev/null <"$file"
      [[ $line == ready ]] && { up=1; break; }
      [[ -d /proc/$pid ]] || break
      pause 0.01
    done
    ((up)) || event "listener-not-ready	${file##*/}"
  done
  PODSRV=()
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

# waitbgp NS SOCK SECONDS PREFIX...: polls BIRD's control socket until every BGP protocol is up
# and Established, and the namespace's main table holds each PREFIX (installed by BIRD or the
# harness' underlay), for at most SECONDS. On timeout, prints what it last saw and fails the build.
# The path where dlbird is missing (with dlbird, build() groups the waits: bgp_group).
# One process per poll: BIRD's protocols from one birdcl (the client without readline: plain
# output, commands echoed as "bird> …" lines, which are left out), the routes read from /proc
# (bgp_routes). The lab's BIRDs run with connect delay 0 and connect retry 1 s (calico/tor.ts
# LAB_BGP_TIMERS) and export to the kernel as soon as a route is learnt, so a session comes up
# within a fraction of a second of its second speaker: a poll every 0.1 s sees it without
# spending the guest's CPU that the BIRDs need.
wait_bgp() {
  local ns=$1 sock=$2 limit=$3; shift 3
  is_num "$limit" || { echo "waitbgp: seconds not a number: $limit" >&2; return 2; }
  local t0=${EPOCHREALTIME/,/.} deadline=$((${EPOCHSECONDS} + limit)) out shown line p ok n_bgp n_est missing
  local -a w cli=(birdc -s "$sock" show protocols)
  [[ -n $BIRDCL ]] && cli=("$BIRDCL" -s "$sock")
  while :; do
    ok=1 n_bgp=0 n_est=0 missing="" shown=""
    out=$("${cli[@]}" <<<'show protocols' 2>&1) || ok=0
    while IFS= read -r line; do
      [[ $line == 'bird>'* ]] && continue
      shown+=$line$'\n'
      read -r -a w <<<"$line"
      [[ ${w[1]:-} == BGP ]] || continue
      n_bgp=$((n_bgp + 1))
      [[ ${w[3]:-} == up && $line == *Established* ]] && n_est=$((n_est + 1))
    done <<<"$out"
    ((n_bgp > 0 && n_est == n_bgp)) || ok=0
    if ((ok)) && (($#)); then
      declare -A have=()
      bgp_routes "$ns"
      for p in "$@"; do [[ -n ${have[$p]:-} || -n ${have[${p%/32}]:-} ]] || missing+=" $p"; done
      unset have
      [[ -z $missing ]] || ok=0
    fi
    if ((ok)); then
      printf '%s\tbgp-converged\t%s\t%s\n' "${EPOCHREALTIME/,/.}" "$ns" "$t0" >>"$OUT/events.tsv"
      return 0
    fi
    if ((EPOCHSECONDS >= deadline)); then
      echo "BGP in $ns not converged within ${limit}s (${n_est}/${n_bgp} sessions Established${missing:+; missing routes:$missing}):" >&2
      printf '%s' "$shown" >&2
      return 1
    fi
    pause 0.1
  done
}
BIRDCL=""
command -v birdcl >/dev/null && BIRDCL=birdcl
# dlbird (native/dlbird.c, found by agent.sh): every BGP wait of a build and every BIRD dump of a
# dump list (probe.sh) from one process speaking BIRD's control socket; empty when missing (birdcl then).

# bgp_group N LINE waitbgp NS SOCK SECONDS PREFIX...: appends manifest step N, a BGP wait, to
# dlbird's list (native/dlbird.c wait: NS SOCK SECONDS NPREFIX PREFIX... per speaker, every
# speaker's control socket and routes polled from one process instead of one birdcl per poll and
# speaker, one after the other). Fails (nothing added) for any other kind, a namespace or socket
# not the lab's, or seconds not a number.
bgp_group() {
  local n=$1 line=$2 kind=$3 ns=${4:-} sock=${5:-} limit=${6:-}
  [[ $kind == waitbgp ]] && is_lab_ns "$ns" && is_lab_ctl "$sock" && is_num "$limit" || return 1
  NSRUN_ARGS+=("$ns" "$sock" "$limit" "$(($# - 6))" "${@:7}")
  NSRUN_STEPS+=("$n	$kind	$ns")
  NSRUN_LINES+=("$line")
}

# bgp_routes NS: the destinations of NS's main routing table as keys of the caller's `have`
# as `ip route show` prints them (a.b.c.d/len; a host route without its /32; default). Read without a
# process from /proc/PID/net/route of a process in NS — the kernel prints there the main table's
# routes of every type but broadcast and multicast (fib_route_seq_show,
# https://elixir.bootlin.com/linux/v6.6/source/net/ipv4/fib_trie.c), each address a 32-bit word
# in the machine's byte order, so only on little-endian machines; elsewhere, or when no process
# in NS is found, `ip route show` as before.
BGP_NS_PID=""
bgp_routes() {
  local ns=$1 q ifc dst gw fl refc use met mask rest d m len a line
  local -a w
  [[ -n $BGP_NS_PID && /proc/$BGP_NS_PID/ns/net -ef /run/netns/$ns ]] || {
    BGP_NS_PID=""
    for q in /proc/[0-9]*; do [[ $q/ns/net -ef /run/netns/$ns ]] && { BGP_NS_PID=${q#/proc/}; break; }; done
  }
  if [[ -n $BGP_NS_PID && $HOSTTYPE == @(x86_64|i?86|aarch64|riscv64|ppc64le|loongarch64) ]]; then
    local -a table=()
    mapfile -t table 2>/dev/null <"/proc/$BGP_NS_PID/net/route"
    # Still the same namespace after the read: the lines are NS's table (not a reused pid's).
    if ((${#table[@]})) && [[ /proc/$BGP_NS_PID/ns/net -ef /run/netns/$ns ]]; then
      for line in "${table[@]:1}"; do
        read -r ifc dst gw fl refc use met mask rest <<<"$line"
        [[ $dst =~ ^[0-9A-F]{8}$ && $mask =~ ^[0-9A-F]{8}$ ]] || continue
        d=$((16#$dst)) m=$((16#$mask)) len=0
        for ((; m; m >>= 1)); do len=$((len + (m & 1))); done
        a=$((d & 255)).$((d >> 8 & 255)).$((d >> 16 & 255)).$((d >> 24 & 255))
        # the keys `ip route show` prints: "default", a host route without its /32
        if ((len == 0)); then have[default]=1; elif ((len == 32)); then have[$a]=1; else have[$a/$len]=1; fi
      done
      return 0
    fi
  fi
  while IFS= read -r line; do
    read -r -a w <<<"$line"
    case ${w[0]:-} in blackhole | unreachable | prohibit | throw) have[${w[1]:-}]=1 ;; *) have[${w[0]:-}]=1 ;; esac
  done < <(ip -n "$ns" route show 2>&1)
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

# fail_step N LINES: records a failed step (its manifest lines) and what it printed.
fail_step() {
  event "step-failed	$1	$2"
  cat "$OUT/step.err" >&2
  printf 'step %d failed: %s\n' "$1" "$2" >"$OUT/build-error"
  cat "$OUT/step.err" >>"$OUT/build-error"
  tool_failures "$OUT/step.err" || return 14
}

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
# (nsrun_group, dlnet_group, dlipvs_group or bgp_group) takes them; moves build()'s i and n past them.
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

build() {
  event "build-start"
  local n=0 i j line steps=""
  local -a lines=() f g args
  mapfile -t lines <"$JOB/manifest.tsv"
  for ((i = 0; i < ${#lines[@]}; i++)); do
    line=${lines[i]}
    [[ -z $line || $line == \#* ]] && continue
    n=$((n + 1))
    IFS=$'\t' read -r -a f <<<"$line"
    # @JOB@ stands for the job directory, whose path differs between host and guest.
    f=("${f[@]//@JOB@/$JOB}")
    if [[ ${f[0]} == server && -n $DLPOD ]]; then
      # Consecutive pod servers: one dlpod process for all of them (run_step servers).
      g=("${f[@]:1:5}")
      for ((j = i + 1; j < ${#lines[@]}; j++)); do
        IFS=$'\t' read -r -a args <<<"${lines[j]}"
        [[ ${args[0]:-} == server ]] || break
        g+=("${args[@]:1:5}")
        line+=" | ${lines[j]}"
      done
      n=$((n + j - i - 1))
      i=$((j - 1))
      f=(servers "$n" "${g[@]//@JOB@/$JOB}")
    fi
    if [[ ${f[0]} == netns && -n $DLNET ]]; then
      # The namespaces (journalled first), then the sysctl and ip steps that follow them, from
      # one dlnet process (-n FILE: each `netns add` as ip makes it) instead of ip, dlsysctl, dlnet.
      if ! journal_netns "$JOB/${f[1]}" 2>"$OUT/step.err"; then
        [[ -n $JOURNAL_FAILED ]] && { printf '%s\n' "$JOURNAL_FAILED" >"$OUT/build-error"; return 13; }
        fail_step "$n" "$line" || return 14
        return 1
      fi
      NSRUN_ARGS=(-n "$JOB/${f[1]}") NSRUN_STEPS=("$n	netns	${f[1]}") NSRUN_LINES=("$line")
      group_more dlnet_group
      nsrun_steps "$DLNET" "$LAB" || return $?
      [[ $PHASE == all && -s $JOB/probes.tsv && -n $DLCAP ]] && start_captures
      continue
    fi
    if [[ ${f[0]} == sysctl && -n $DLSYSCTL ]]; then
      # Consecutive sysctl steps (one per namespace) in one process: dlsysctl NSPATH FILE...
      args=("/run/netns/${f[1]}" "$JOB/${f[2]}")
      for ((j = i + 1; j < ${#lines[@]}; j++)); do
        IFS=$'\t' read -r -a g <<<"${lines[j]}"
        [[ ${g[0]:-} == sysctl ]] || break
        args+=("/run/netns/${g[1]}" "$JOB/${g[2]}")
        line+=" | ${lines[j]}"
      done
      n=$((n + j - i - 1))
      i=$((j - 1))
      "$DLSYSCTL" "${args[@]}" 2>"$OUT/step.err" || { fail_step "$n" "$line" || return 14; return 1; }
    elif [[ ${f[0]} == ip && -n $DLNET ]] && NSRUN_ARGS=() NSRUN_STEPS=() NSRUN_LINES=() && dlnet_group "$n" "$line" "${f[@]}"; then
      # Consecutive ip steps (a batch per namespace) applied by one process (dlnet), in order.
      group_more dlnet_group
      nsrun_steps "$DLNET" "$LAB" || return $?
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
      [[ -n $JOURNAL_FAILED ]] && { printf '%s\n' "$JOURNAL_FAILED" >"$OUT/build-error"; return 13; }
      fail_step "$n" "$line" || return 14
      return 1
    fi
    # The namespaces exist: the capture opens its sockets while the rest of the build runs.
    [[ ${f[0]} == netns && $PHASE == all && -s $JOB/probes.tsv && -n $DLCAP ]] && start_captures
    steps+="${EPOCHREALTIME/,/.}	step-end	$n	${f[0]}	${f[1]:-}"$'\n'
  done
  # Per-step end times (for the bench's phase split), written once: hostfs writes are not free.
  printf '%s' "$steps" >>"$OUT/events.tsv"
  event "build-end	$n"
}
