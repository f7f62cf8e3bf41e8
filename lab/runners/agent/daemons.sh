# datapath-lab agent — the lab's daemons and the waits for them: the pod servers (dlpod), the
# listeners the probes wait for, BIRD's BGP sessions. Sourced by ../agent.sh, which sets JOB, OUT,
# LAB, the journal and the helpers used here; never run on its own.
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
  # dlpod records itself in the journal before it opens a socket (native/selfjournal.c): killed
  # before the line below, the agent would leave it unrecorded.
  DL_JOURNAL=$JOURNAL DL_JOURNAL_AS=podsrv-$n "$DLPOD" serve "$LAB" "${args[@]}" >"$OUT/podsrv-$n.ready" 2>"$OUT/daemon-podsrv-$n.log" </dev/null &
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
