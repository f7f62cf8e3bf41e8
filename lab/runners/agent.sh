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
mkdir -p "$OUT/capture" "$OUT/dump"
IPT_RESTORE=${DL_IPTABLES_RESTORE:-iptables-restore}
IPT_SAVE=${DL_IPTABLES_SAVE:-iptables-save}
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

now() { printf '%s' "${EPOCHREALTIME/,/.}"; }
# No command substitution here: in UML every fork costs milliseconds.
event() { printf '%s\t%s\n' "${EPOCHREALTIME/,/.}" "$*" >>"$OUT/events.tsv"; }
fail() { event "error	$*"; echo "agent: $*" >&2; exit 10; }
# pause SECONDS: a sleep without a process (a read that times out on a FIFO nobody writes to).
TICK_FD=""
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
# The start time of a process (field 22 of /proc/PID/stat): a pid is acted on only with it.
proc_start() {
  local st
  read -r st 2>/dev/null <"/proc/$1/stat" || return 1
  st=${st##*) }
  local -a sf
  read -r -a sf <<<"$st"
  printf '%s' "${sf[19]}"
}
kill_recorded() {  # PID START
  [[ $1 =~ ^[0-9]+$ && $2 =~ ^[0-9]+$ ]] || return 0
  [[ $(proc_start "$1") == "$2" ]] && kill -9 "$1" 2>/dev/null
  return 0
}
is_lab_ns() { [[ $1 =~ ^dl-${LAB}-[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$ ]]; }
is_lab_ctl() { [[ $1 =~ ^/run/(.+)\.ctl$ ]] && is_lab_ns "${BASH_REMATCH[1]}"; }
is_lab_bpffs() { [[ ( $1 == "/sys/fs/bpf/dl-$LAB" || $1 == "/sys/fs/bpf/dl-$LAB/"* ) && $1 != *..* ]]; }
is_num() { [[ $1 =~ ^[0-9]+$ ]]; }

# The compiled helpers (native/*.c): next to the agent (container), via DL_<NAME>, or in the
# repo's .lab/ (built by the runner). dlcap: one capture process for every lab namespace (one
# pcapng stream); dlsysctl: every namespace's sysctls from one process. Empty when missing: the
# agent then uses one tcpdump, one sysctl per namespace.
find_tool() {  # find_tool VAR NAME OVERRIDE (no command substitution: a fork costs in UML)
  local c here=${BASH_SOURCE[0]%/*}
  printf -v "$1" '%s' ""
  for c in "$3" "$here/$2" "$here/../../.lab/$2"; do
    [[ -n $c && -x $c ]] && { printf -v "$1" '%s' "$c"; return 0; }
  done
}
find_tool DLCAP dlcap "${DL_DLCAP:-}"
find_tool DLSYSCTL dlsysctl "${DL_DLSYSCTL:-}"

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
                journal "daemon	$name	$dpid	$(proc_start "$dpid")" || { kill -9 "$dpid"; return 13; }
                echo "$dpid" >>"$OUT/daemons.pid"
                for a in "$@"; do [[ $a =~ ^TCP[46]?-LISTEN:([0-9]+) ]] && LISTENERS+=("$dpid	$ns	${BASH_REMATCH[1]}"); done
                printf '%s\tdaemon-start\t%s\n' "${EPOCHREALTIME/,/.}" "$name" >>"$OUT/events.tsv" ;;
    sleep)      is_num "$1" || { echo "sleep: not a number: $1" >&2; return 2; }; sleep "$1" ;;
    waitfile)   is_num "$2" || { echo "waitfile: seconds not a number: $2" >&2; return 2; }
                local i; for ((i = 0; i < $2 * 50; i++)); do [[ -s $JOB/$1 ]] && return 0; pause 0.02; done; return 1 ;;
    waitbgp)    wait_bgp "$@" ;;
    *)          echo "unknown step kind: $kind" >&2; return 2 ;;
  esac
}

# Servers the build started (pid, namespace, TCP port): probes wait until each listens, read from
# /proc/PID/net/tcp (the daemon's own namespace, once it is in the lab's) without a process.
LISTENERS=()
wait_listeners() {
  local entry pid ns port hex deadline=$((EPOCHSECONDS + 10)) sl local rem st rest up
  for entry in "${LISTENERS[@]}"; do
    IFS=$'\t' read -r pid ns port <<<"$entry"
    printf -v hex ':%04X' "$port"
    up=0
    while ((EPOCHSECONDS <= deadline)); do
      [[ -d /proc/$pid ]] || break
      if [[ /proc/$pid/ns/net -ef /run/netns/$ns ]]; then
        while read -r sl local rem st rest; do
          [[ $st == 0A && $local == *"$hex" ]] && { up=1; break; }
        done <"/proc/$pid/net/tcp"
      fi
      ((up)) && break
      pause 0.01
    done
    ((up)) || event "listener-not-ready	$ns	$port"
  done
  LISTENERS=()
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
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
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
wait_bgp() {
  local ns=$1 sock=$2 limit=$3; shift 3
  is_num "$limit" || { echo "waitbgp: seconds not a number: $limit" >&2; return 2; }
  local t0=${EPOCHREALTIME/,/.} deadline=$((${EPOCHSECONDS} + limit)) out routes line p ok n_bgp n_est missing
  local -a w
  while :; do
    ok=1 n_bgp=0 n_est=0 missing=""
    out=$(birdc -s "$sock" show protocols 2>&1) || ok=0
    while IFS= read -r line; do
      read -r -a w <<<"$line"
      [[ ${w[1]:-} == BGP ]] || continue
      n_bgp=$((n_bgp + 1))
      [[ ${w[3]:-} == up && $line == *Established* ]] && n_est=$((n_est + 1))
    done <<<"$out"
    ((n_bgp > 0 && n_est == n_bgp)) || ok=0
    if ((ok)) && (($#)); then
      declare -A have=()
      routes=$(ip -n "$ns" route show 2>&1)
      while IFS= read -r line; do
        read -r -a w <<<"$line"
        case ${w[0]:-} in blackhole | unreachable | prohibit | throw) have[${w[1]:-}]=1 ;; *) have[${w[0]:-}]=1 ;; esac
      done <<<"$routes"
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
      echo "$out" >&2
      return 1
    fi
    pause 0.2
  done
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

# --- probes ------------------------------------------------------------------------------
# probes.tsv columns: id  client-ns  dst-ip  dst-port  attempts  timeout-s  want-text  mode(single|bulk)  dump-spec  sport-base
# (attempt a of a single probe uses source port sport-base + a; every number is checked first)
# dump-spec: comma list of kind:ns[:value] (value: bird's control socket, bpf's pin folder) with kind in conntrack|ipvs|iptables|route|rule|neigh|link|addr|bpf|bird
# (bird: `birdc show protocols` and `show route all` on the control socket /run/<ns>.ctl)
CAP_PIDS=()
CAP_MODE=""
# start_captures: starts the capture of every lab namespace (idempotent); captures_ready waits
# until every socket is open. Started right after the namespaces exist, so it is ready when the
# build is done.
start_captures() {
  [[ -n $CAP_MODE ]] && return 0
  local ns filter
  filter=$(<"$JOB/capture-filter") 2>/dev/null || filter="tcp"
  if [[ -n $DLCAP ]]; then
    local -a spaces=()
    while IFS= read -r ns; do [[ -n $ns ]] && spaces+=("${ns:10}=/run/netns/$ns"); done <"$JOB/namespaces"
    coproc CAP { exec "$DLCAP" "$OUT/capture.pcapng" "$filter" "${spaces[@]}" 2>"$OUT/capture.err"; }
    CAP_PIDS+=("$CAP_PID")
    # It runs in the root namespace: journalled, so that teardown and `lab down` stop it.
    journal "daemon	dlcap	$CAP_PID	$(proc_start "$CAP_PID")" || kill -9 "$CAP_PID"
    CAP_MODE=dlcap
    return 0
  fi
  CAP_MODE=tcpdump
  while IFS= read -r ns; do
    [[ -z $ns ]] && continue
    # One tcpdump per namespace: -i any prints interface and direction of every packet.
    ip netns exec "$ns" tcpdump -i any -nn -l -tt -e -v -S -Q inout "$filter" \
      >"$OUT/capture/$ns.txt" 2>"$OUT/capture/$ns.err" </dev/null &
    CAP_PIDS+=("$!")
  done <"$JOB/namespaces"
}

captures_ready() {
  local line="" i ready ns
  if [[ $CAP_MODE == dlcap ]]; then
    # dlcap prints "ready" once every socket is open: a blocking read, no polling.
    [[ -n ${CAP[0]:-} ]] && read -r -t 60 -u "${CAP[0]}" line
    [[ $line == ready ]] || event "capture-not-ready"
    return 0
  fi
  # tcpdump: until each has opened its socket ("listening on" on stderr), bounded.
  for ((i = 0; i < 300; i++)); do
    ready=1
    while IFS= read -r ns; do
      [[ -z $ns ]] && continue
      grep -q 'listening on' "$OUT/capture/$ns.err" 2>/dev/null || { ready=0; break; }
    done <"$JOB/namespaces"
    ((ready)) && break
    pause 0.1
  done
  ((ready)) || event "capture-not-ready"
}

stop_captures() {
  # dlcap reads what its sockets still hold until they stay quiet; tcpdump gets a fixed grace.
  [[ $CAP_MODE == tcpdump ]] && sleep "${DL_CAPTURE_SETTLE:-0.3}"
  local p
  for p in "${CAP_PIDS[@]}"; do kill -INT "$p" 2>/dev/null; done
  for p in "${CAP_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  CAP_PIDS=()
  CAP_MODE=""
}

dump() {  # dump KIND NS FILE [VALUE]
  local kind=$1 ns=$2 f=$3
  case "$kind" in
    conntrack) ip netns exec "$ns" conntrack -L -o extended >"$f" 2>/dev/null ;;
    ipvs)      ip netns exec "$ns" ipvsadm -Ln --tcp-service-only 2>/dev/null >"$f" || ip netns exec "$ns" ipvsadm -Ln >"$f" 2>&1 ;;
    ipvsconn)  ip netns exec "$ns" ipvsadm -Lnc >"$f" 2>&1 ;;
    iptables)  ip netns exec "$ns" "$IPT_SAVE" -c >"$f" 2>&1 ;;
    route)     { ip -n "$ns" route show table all; } >"$f" 2>&1 ;;
    rule)      ip -n "$ns" rule show >"$f" 2>&1 ;;
    neigh)     ip -n "$ns" neigh show >"$f" 2>&1 ;;
    link)      ip -n "$ns" -d link show >"$f" 2>&1 ;;
    addr)      ip -n "$ns" addr show >"$f" 2>&1 ;;
    tc)        { tc -n "$ns" -s filter show dev "${ns##*:}" 2>/dev/null; } >"$f" ;;
    bird)      # BIRD's control socket, as the job gives it (a lab socket only)
               is_lab_ctl "$4" || { echo "no lab control socket given for the bird dump: $4" >"$f"; return 0; }
               { birdc -s "$4" show protocols; echo '# show route all'; birdc -s "$4" show route all; } >"$f" 2>&1 ;;
    bpf)       # an object's tc eBPF service maps (serviceProxy ebpf), in the pin folder the job gives
               local d=$4 m
               is_lab_bpffs "$d" || { echo "no lab pin folder given for the bpf dump: $d" >"$f"; return 0; }
               for m in lb4_services_v2 lb4_backends lb4_reverse_nat; do printf '# %s\n' "$m"; bpftool -j map dump pinned "$d/$m"; printf '\n'; done >"$f" 2>&1 ;;
    *)         echo "unknown dump kind $kind" >"$f" ;;
  esac
}

# single: one connection per attempt (socat, own source port), stop at the first answer that
# contains want-text (or the first answer when want-text is "-"); bulk: N sequential
# connections from one bash process, counting answers.
probe_single() {
  local id=$1 ns=$2 ip=$3 port=$4 attempts=$5 to=$6 want=$7 sport=$8
  local a reply rc
  for ((a = 1; a <= attempts; a++)); do
    local t0; t0=$(now)
    reply=$(ip netns exec "$ns" socat -T "$to" -u "TCP:$ip:$port,connect-timeout=$to,sourceport=$((sport + a)),reuseaddr" STDOUT 2>"$OUT/probe-$id.err")
    rc=$?
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "$a" "$t0" "$(now)" "$rc" "${reply//[$'\r\n\t']/ }" >>"$OUT/probes.out"
    if ((rc == 0)) && [[ -n $reply ]] && { [[ $want == - ]] || [[ $reply == *"$want"* ]]; }; then
      return 0
    fi
    ((rc != 0)) && [[ $want == - ]] && return 1   # unreachable: no point repeating
  done
  return 1
}

probe_bulk() {
  local id=$1 ns=$2 ip=$3 port=$4 count=$5 to=$6
  local t0; t0=$(now)
  # One process for all connections: bash's /dev/tcp needs no fork per connection.
  # The script is a constant: every value reaches it as an argument ($1…$4), never as text.
  ip netns exec "$ns" timeout "$((to * count + 5))" bash -c '
    for ((i = 1; i <= $3; i++)); do
      if exec 3<>"/dev/tcp/$1/$2"; then
        body=""; while IFS= read -r -t "$4" line <&3; do body+="${line//$'"'\r'"'/} "; done
        exec 3<&- 3>&-
        printf "%s\t0\t%s\n" "$i" "$body"
      else
        printf "%s\t1\t\n" "$i"
      fi
    done' _ "$ip" "$port" "$count" "$to" >"$OUT/bulk-$id.tsv" 2>"$OUT/probe-$id.err"
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "bulk" "$t0" "$(now)" "$?" "" >>"$OUT/probes.out"
}

# State dumps that do not depend on a probe (tables as built), after the probes if there are any.
final_dumps() {
  [[ -s $JOB/dumps.tsv ]] || return 0
  local kind ns arg
  while IFS=$'\t' read -r kind ns arg || [[ -n $kind ]]; do
    [[ -z $kind ]] && continue
    dump "$kind" "$ns" "$OUT/dump/final.$kind.$ns.txt" "$arg"
  done <"$JOB/dumps.tsv"
}

run_probes() {
  [[ -s $JOB/probes.tsv ]] || { final_dumps; return 0; }
  start_captures
  wait_listeners
  captures_ready
  event "captures-ready"
  local line n=0
  while IFS= read -r line || [[ -n $line ]]; do
    [[ -z $line || $line == \#* ]] && continue
    n=$((n + 1))
    local -a f
    IFS=$'\t' read -r -a f <<<"$line"
    local id=${f[0]} ns=${f[1]} ip=${f[2]} port=${f[3]} attempts=${f[4]} to=${f[5]} want=${f[6]} mode=${f[7]} dumps=${f[8]:-} sport=${f[9]:-}
    # Numbers are checked before any arithmetic (bash evaluates a[$(cmd)] in arithmetic context).
    local v
    for v in "$port" "$attempts" "$to" "$sport"; do is_num "$v" && ((${#v} <= 6)) || fail "probe line $n: not a number: $v"; done
    [[ $id =~ ^[A-Za-z0-9_-]+$ ]] || fail "probe line $n: bad id"
    is_lab_ns "$ns" || fail "probe line $n: $ns is not a lab namespace"
    [[ $ip =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || fail "probe line $n: not an IPv4 address: $ip"
    [[ $mode == single || $mode == bulk ]] || fail "probe line $n: unknown mode $mode"
    event "probe-start	$id"
    if [[ $mode == bulk ]]; then
      probe_bulk "$id" "$ns" "$ip" "$port" "$attempts" "$to"
    else
      probe_single "$id" "$ns" "$ip" "$port" "$attempts" "$to" "$want" "$sport"
    fi
    event "probe-end	$id	$?"
    local d
    IFS=',' read -r -a d <<<"$dumps"
    local spec kind rest dns arg
    for spec in "${d[@]}"; do
      [[ -z $spec ]] && continue
      # kind:namespace[:value] — the value (a control socket, a pin folder) comes from the job.
      kind=${spec%%:*} rest=${spec#*:} dns=${rest%%:*} arg=""
      [[ $rest == *:* ]] && arg=${rest#*:}
      dump "$kind" "$dns" "$OUT/dump/$id.$kind.$dns.txt" "$arg"
    done
  done <"$JOB/probes.tsv"
  tool_failures "$OUT"/probe-*.err "$OUT"/daemon-*.log
  stop_captures
  final_dumps
}

# --- teardown ----------------------------------------------------------------------------
# Replays the journal in reverse and undoes what it names — and nothing else: daemons (by pid
# and start time), control sockets, bpffs folders, namespaces (each value checked against the
# lab id first). Processes inside a journalled namespace are killed before it is deleted: which
# ones, by comparing each process's netns inode with the namespaces' (two processes for the
# whole lab). Nothing is written to disk on the way (the disk may be full).
teardown() {
  event "teardown-start"
  local p
  for p in "${CAP_PIDS[@]}"; do kill -INT "$p" 2>/dev/null; done
  local -a lines=() f
  mapfile -t lines <"$JOURNAL" 2>/dev/null
  local i
  NSS=()
  for ((i = ${#lines[@]} - 1; i >= 0; i--)); do
    IFS=$'\t' read -r -a f <<<"${lines[i]}"
    [[ ${f[0]:-} == netns ]] || flush_netns
    case ${f[0]:-} in
      netns)  is_lab_ns "${f[1]:-}" && [[ -e /run/netns/${f[1]} ]] && NSS+=("/run/netns/${f[1]}") ;;
      daemon) kill_recorded "${f[2]:-}" "${f[3]:-}" ;;
      ctl)    is_lab_ctl "${f[1]:-}" && rm -f -- "${f[1]}" ;;
      bpffs)  is_lab_bpffs "${f[1]:-}" && [[ -d ${f[1]} ]] && rm -rf -- "${f[1]}" ;;
    esac
  done
  flush_netns
  wait 2>/dev/null
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
# The host drops requests into $JOB/ctl/<id>.req (NUL-separated argv: "exec" NS ARGV… | "down"),
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
        agent)   # run one of this script's phases on the lab (e.g. probe), synchronously
          bash "$0" "$JOB" "${argv[1]}" >"$ctl/$id.out" 2>&1
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
  local q=$JOB req id rel dir kernel last=$EPOCHSECONDS root=/run/dl-state
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
      bash "$0" "$dir" all >"$dir/out/agent.log" 2>&1
      printf '%s %s\n' "$?" "$kernel" >"$q/$id.rc"
      last=$EPOCHSECONDS
    done
    pause 0.02
  done
  umount "$root"
}

# The agent itself, so that `lab down` can stop an agent whose command was killed (native).
record_agent() { journal "agent	$$	$(proc_start $$)" || exit 13; }

case "$PHASE" in
  queue)    queue ;;
  build)    record_agent; build ;;
  probe)    run_probes; if [[ -s $OUT/tool-error ]]; then exit 14; fi ;;
  teardown) teardown ;;
  up)       record_agent; build || { rc=$?; teardown; exit $((rc == 13 || rc == 14 ? rc : 11)); }; : >"$OUT/ready" ;;
  serve)    record_agent; serve ;;
  all)
    record_agent
    trap teardown EXIT
    trap 'exit 143' TERM INT   # so that a stopped run still runs the EXIT trap (teardown)
    build || { rc=$?; exit $((rc == 13 || rc == 14 ? rc : 11)); }
    run_probes
    if [[ -s $OUT/tool-error ]]; then exit 14; fi   # a tool could not start: no verdict from this run
    ;;
  *) fail "unknown phase $PHASE" ;;
esac
