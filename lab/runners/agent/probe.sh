# datapath-lab agent — the probes (captures, connections, dumps). Sourced by ../agent.sh, which sets JOB, OUT, LAB,
# the journal and the helpers used here; never run on its own.
# --- probes ------------------------------------------------------------------------------
# probes.tsv columns: id  client-ns  dst-ip  dst-port  attempts  timeout-s  want-text  mode(single|bulk)  dump-spec  sport-base  protocol(tcp|udp|sctp)
# (attempt a of a single probe uses source port sport-base + a; every number is checked first)
# dump-spec: comma list of [?]kind:ns[:value] ('?': only once a single probe of the run went unanswered) (value: bird's control socket, bpf's pin folder) with kind in conntrack|ipvs|iptables|route|rule|neigh|link|addr|bpf|bird
# (bird: `show protocols` and `show route all` on the control socket /run/<ns>.ctl, bird_dump)
CAP_PIDS=()
CAP_MODE=""
CAP_FD=""
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
    # dlcap records itself in the journal before it opens a socket (native/selfjournal.c), as dlpod.
    coproc CAP { DL_JOURNAL=$JOURNAL DL_JOURNAL_AS=dlcap exec "$DLCAP" "$OUT/capture.pcapng" "$filter" "${spaces[@]}" 2>"$OUT/capture.err"; }
    CAP_PIDS+=("$CAP_PID")
    # Its own copy of dlcap's stdout ("ready", then "done"): bash closes CAP's once it reaps dlcap.
    exec {CAP_FD}<&"${CAP[0]}"
    # It runs in the root namespace: journalled, so that teardown and `lab down` stop it.
    proc_start "$CAP_PID"
    journal "daemon	dlcap	$CAP_PID	$PROC_START" || kill -9 "$CAP_PID"
    CAP_MODE=dlcap
    return 0
  fi
  CAP_MODE=tcpdump
  while IFS= read -r ns; do
    [[ -z $ns ]] && continue
    # One tcpdump per namespace: -i any prints interface and direction of every packet;
    # --immediate-mode, or packets still in the ring's current block are lost at the SIGINT.
    ip netns exec "$ns" tcpdump --immediate-mode -i any -nn -l -tt -e -v -S -Q inout "$filter" \
      >"$OUT/capture/$ns.txt" 2>"$OUT/capture/$ns.err" </dev/null &
    CAP_PIDS+=("$!")
  done <"$JOB/namespaces"
}

captures_ready() {
  local line="" i ready ns
  if [[ $CAP_MODE == dlcap ]]; then
    # dlcap prints "ready" once every socket is open: a blocking read, no polling.
    [[ -n $CAP_FD ]] && read -r -t 60 -u "$CAP_FD" line
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
  local p line=""
  for p in "${CAP_PIDS[@]}"; do kill -INT "$p" 2>/dev/null; done
  # dlcap says "done" once its stream is whole, then closes its packet sockets (an RCU grace period
  # each, native/dlcap.c): the evidence is complete at "done", and its exit is not waited for
  # (disowned: teardown's wait skips it; it is journalled, so teardown still stops it).
  if [[ $CAP_MODE == dlcap && -n $CAP_FD ]]; then
    while read -r -t 10 -u "$CAP_FD" line && [[ $line != done ]]; do :; done
    exec {CAP_FD}<&-
    CAP_FD=""
    [[ $line == done ]] && { disown "${CAP_PIDS[0]}" 2>/dev/null; CAP_PIDS=(); }
  fi
  for p in "${CAP_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  CAP_PIDS=()
  CAP_MODE=""
}

# dump_cmd KIND: the command of a dump that is one command run in a lab namespace, in DUMP_CMD,
# and where its stderr goes in DUMP_ERR ("=": with stdout). Fails for the other kinds. The one
# table of these commands, for both ways of running them (dump, dump_group).
DUMP_CMD=()
DUMP_ERR="="
dump_cmd() {
  DUMP_ERR="="
  case "$1" in
    conntrack) DUMP_CMD=(conntrack -L -o extended) DUMP_ERR=/dev/null ;;
    ipvs)      DUMP_CMD=(ipvsadm -Ln) ;;
    ipvsconn)  DUMP_CMD=(ipvsadm -Lnc) ;;
    iptables)  DUMP_CMD=("$IPT_SAVE" -c) ;;
    route)     DUMP_CMD=(ip route show table all) ;;
    rule)      DUMP_CMD=(ip rule show) ;;
    neigh)     DUMP_CMD=(ip neigh show) ;;
    link)      DUMP_CMD=(ip -d link show) ;;
    addr)      DUMP_CMD=(ip addr show) ;;
    *)         return 1 ;;
  esac
}

dump() {  # dump KIND NS FILE [VALUE]: one process (or two) for this dump
  local kind=$1 ns=$2 f=$3
  if dump_cmd "$kind"; then
    is_lab_ns "$ns" || { echo "not a lab namespace: $ns" >"$f"; return 0; }
    # `ip -n` is one process; anything else needs `ip netns exec` around it.
    local -a run=(ip netns exec "$ns" "${DUMP_CMD[@]}")
    [[ ${DUMP_CMD[0]} == ip ]] && run=(ip -n "$ns" "${DUMP_CMD[@]:1}")
    if [[ $DUMP_ERR == = ]]; then "${run[@]}" >"$f" 2>&1; else "${run[@]}" >"$f" 2>"$DUMP_ERR"; fi
    return 0
  fi
  case "$kind" in
    tc)        { tc -n "$ns" -s filter show dev "${ns##*:}" 2>/dev/null; } >"$f" ;;
    bird)      # BIRD's control socket, as the job gives it (a lab socket only)
               is_lab_ctl "$4" || { echo "no lab control socket given for the bird dump: $4" >"$f"; return 0; }
               bird_dump "$4" "$f" ;;
    bpf)       # an object's tc eBPF service maps (serviceProxy ebpf), in the pin folder the job gives
               local d=$4 m
               is_lab_bpffs "$d" || { echo "no lab pin folder given for the bpf dump: $d" >"$f"; return 0; }
               for m in lb4_services_v2 lb4_backends lb4_reverse_nat; do printf '# %s\n' "$m"; bpftool -j map dump pinned "$d/$m"; printf '\n'; done >"$f" 2>&1 ;;
    *)         echo "unknown dump kind $kind" >"$f" ;;
  esac
}

# bird_dump SOCK FILE: `show protocols`, a "# show route all" line, the banner and `show route all`
# (the layout lab/evidence/birdc.ts splits), from one birdcl process fed both commands on stdin —
# it echoes each as "bird> …", which marks where the second one's answer starts — instead of one
# birdc per command. Without birdcl, two birdc processes as before.
bird_dump() {
  local sock=$1 f=$2 line banner=""
  if [[ -z $BIRDCL ]]; then
    { birdc -s "$sock" show protocols; echo '# show route all'; birdc -s "$sock" show route all; } >"$f" 2>&1
    return 0
  fi
  "$BIRDCL" -s "$sock" >"$f" 2>&1 <<<$'show protocols\nshow route all'
  local -a lines=()
  mapfile -t lines <"$f"
  for line in "${lines[@]}"; do
    case $line in
      'BIRD '*' ready.') banner=$line; printf '%s\n' "$line" ;;
      'bird> show route all') printf '# show route all\n'; [[ -z $banner ]] || printf '%s\n' "$banner" ;;
      'bird>'*) ;;
      *) printf '%s\n' "$line" ;;
    esac
  done >"$f"
}

# dump_group KIND NS FILE [VALUE]: a dump that is one command in a lab namespace, as a dlnsrun group
# (native/dlnsrun.c: NSPATH IN OUT ERR ARGC ARG…) appended to DUMP_ARGS — the same command and
# output file as dump(), without `ip netns exec` around it; a bpf dump (VALUE: the lab's pin
# folder) to BPF_DUMPS, dlbpf's list (native/dlbpf.c dump: the layout dump() writes). Fails
# (nothing added) for the other kinds or without dlnsrun (dlbpf for bpf).
DUMP_ARGS=()
BPF_DUMPS=()
IPT_ARGS=()
dump_group() {
  local kind=$1 ns=$2 f=$3
  [[ $kind == bpf && -n $DLBPF ]] && is_lab_bpffs "${4:-}" && { BPF_DUMPS+=("$4" "$f"); return 0; }
  # iptables counters from one dlipt process (native/dlipt.c: NSPATH FILE pairs), where found.
  [[ $kind == iptables && -n $DLIPT ]] && is_lab_ns "$ns" && { IPT_ARGS+=("/run/netns/$ns" "$f"); return 0; }
  [[ -n $DLNSRUN ]] && is_lab_ns "$ns" && dump_cmd "$kind" || return 1
  # conntrack's table as the namespace's /proc/net/nf_conntrack (the lines `conntrack -L -o
  # extended` prints), read by dlnsrun itself (@cat): no process start. The file exists once
  # nf_conntrack is loaded, in every namespace, when the kernel has CONFIG_NF_CONNTRACK_PROCFS.
  [[ $kind == conntrack && -r /proc/net/nf_conntrack ]] && DUMP_CMD=(@cat /proc/self/net/nf_conntrack) DUMP_ERR=-
  # IPVS's table likewise as the namespace's /proc/net/ip_vs: the services, real servers, weights
  # and connection counts `ipvsadm -Ln` prints, addresses in hex (lab/evidence/ipvsadm.ts reads
  # both). Its persistent timeout is in jiffies, so ipvs_proc_recheck dumps such a table again
  # with ipvsadm. DL_IPVS_DUMP=ipvsadm: always ipvsadm.
  if [[ $kind == ipvs && -z $IPVS_ADM && ${DL_IPVS_DUMP:-} != ipvsadm && -r /proc/net/ip_vs ]]; then
    DUMP_CMD=(@cat /proc/self/net/ip_vs) DUMP_ERR=-
    IPVS_PROC+=("$ns" "$f")
  fi
  DUMP_ARGS+=("/run/netns/$ns" - "$f" "$DUMP_ERR" "${#DUMP_CMD[@]}" "${DUMP_CMD[@]}")
}
IPVS_PROC=()
IPVS_ADM=""

# dump_all: runs the dumps dump_group collected, one process for all of them (and one for the bpf ones).
dump_all() {
  ((${#DUMP_ARGS[@]})) && "$DLNSRUN" -k "${DUMP_ARGS[@]}" >/dev/null 2>>"$OUT/dump.err"
  ((${#BPF_DUMPS[@]})) && "$DLBPF" dump "$LAB" "${BPF_DUMPS[@]}" 2>>"$OUT/dump.err"
  ((${#IPT_ARGS[@]})) && "$DLIPT" "$LAB" "${IPT_ARGS[@]}" 2>>"$OUT/dump.err"
  DUMP_ARGS=() BPF_DUMPS=() IPT_ARGS=()
  ipvs_proc_recheck
}

# ipvs_proc_recheck: a /proc/net/ip_vs dump that holds a persistent service ("… rr persistent
# <jiffies> <netmask>", ip_vs_ctl.c) is taken again with `ipvsadm -Ln` (timeout in seconds), from
# one more dlnsrun process. The file is read without a command substitution (a fork in UML).
ipvs_proc_recheck() {
  local i text
  local -a again=()
  for ((i = 0; i < ${#IPVS_PROC[@]}; i += 2)); do
    text=""
    IFS= read -r -d '' text <"${IPVS_PROC[i + 1]}"
    [[ $text == *' persistent '* ]] && again+=("${IPVS_PROC[i]}" "${IPVS_PROC[i + 1]}")
  done
  IPVS_PROC=()
  ((${#again[@]})) || return 0
  IPVS_ADM=1
  for ((i = 0; i < ${#again[@]}; i += 2)); do dump_group ipvs "${again[i]}" "${again[i + 1]}"; done
  IPVS_ADM=""
  dump_all
}

# dumps_from TSV PREFIX: every dump a job file lists (lines kind, namespace[, value]) into
# dump/PREFIX.KIND.NS.txt — the one-command ones from one dlnsrun process.
dumps_from() {
  [[ -s $1 ]] || return 0
  local kind ns arg
  local -a birds=()
  while IFS=$'\t' read -r kind ns arg || [[ -n $kind ]]; do
    [[ -z $kind ]] && continue
    dump_cmd "$kind" && ! is_lab_ns "$ns" && fail "${1##*/}: $ns is not a lab namespace"
    if [[ $kind == bird && -n $DLBIRD ]] && is_lab_ctl "$arg"; then
      birds+=("$arg" "$OUT/dump/$2.$kind.$ns.txt")
      continue
    fi
    dump_group "$kind" "$ns" "$OUT/dump/$2.$kind.$ns.txt" "$arg" || dump "$kind" "$ns" "$OUT/dump/$2.$kind.$ns.txt" "$arg"
  done <"$1"
  dump_all
  # Every BIRD dump of the list from one dlbird process (native/dlbird.c dump: the layout
  # bird_dump writes, without a birdcl per speaker).
  ((${#birds[@]})) && "$DLBIRD" dump "${birds[@]}" 2>>"$OUT/dump.err"
  return 0
}

# single: one connection per attempt (dlpod probe, or socat; own source port), stop at the first
# answer that contains want-text (or the first answer when want-text is "-"); bulk: N sequential
# connections from one bash process, counting answers. UDP: one datagram per attempt, the
# answer is the datagram that comes back (the pod's server then sends an empty one, which ends
# socat at once: null-eof); no answer within the timeout is an empty reply. SCTP: as TCP.
probe_single() {
  local id=$1 ns=$2 ip=$3 port=$4 attempts=$5 to=$6 want=$7 sport=$8 proto=${9:-tcp}
  local a reply rc
  for ((a = 1; a <= attempts; a++)); do
    local t0=${EPOCHREALTIME/,/.}
    if [[ -n $DLPOD ]]; then
      # dlpod: the same attempt from one process that setns()es into the client's namespace. Its
      # reply goes through a file, not $(…): a command substitution forks the agent's shell first
      # (55-140 ms in UML, twice dlpod's own start). Trailing newlines dropped, as $(…) does.
      "$DLPOD" probe "$LAB" "/run/netns/$ns" "$proto" "$ip" "$port" "$((sport + a))" "$to" "probe $id"$'\n' >"$OUT/probe-$id.reply" 2>"$OUT/probe-$id.err"
      rc=$?
      reply=""
      IFS= read -r -d '' reply <"$OUT/probe-$id.reply"
      while [[ $reply == *$'\n' ]]; do reply=${reply%$'\n'}; done
    else
      case $proto in
        udp)  reply=$(printf 'probe %s\n' "$id" | ip netns exec "$ns" socat -T "$to" -t "$to" "UDP:$ip:$port,sourceport=$((sport + a)),reuseaddr,null-eof" STDIO 2>"$OUT/probe-$id.err") ;;
        sctp) reply=$(ip netns exec "$ns" socat -T "$to" -u "SCTP-CONNECT:$ip:$port,connect-timeout=$to,sourceport=$((sport + a)),reuseaddr" STDOUT 2>"$OUT/probe-$id.err") ;;
        *)    reply=$(ip netns exec "$ns" socat -T "$to" -u "TCP:$ip:$port,connect-timeout=$to,sourceport=$((sport + a)),reuseaddr" STDOUT 2>"$OUT/probe-$id.err") ;;
      esac
      rc=$?
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "$a" "$t0" "${EPOCHREALTIME/,/.}" "$rc" "${reply//[$'\r\n\t']/ }" >>"$OUT/probes.out"
    if ((rc == 0)) && [[ -n $reply ]] && { [[ $want == - ]] || [[ $reply == *"$want"* ]]; }; then
      return 0
    fi
    ((rc != 0)) && [[ $want == - ]] && return 1   # unreachable: no point repeating
  done
  return 1
}

probe_bulk() {
  local id=$1 ns=$2 ip=$3 port=$4 count=$5 to=$6 proto=${7:-tcp}
  local t0=${EPOCHREALTIME/,/.}
  if [[ -n $DLPOD ]]; then
    # dlpod: every connection from one process in the client's namespace, the same lines.
    "$DLPOD" bulk "$LAB" "/run/netns/$ns" "$proto" "$ip" "$port" "$count" "$to" >"$OUT/bulk-$id.tsv" 2>"$OUT/probe-$id.err"
    local rc=$?
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "bulk" "$t0" "${EPOCHREALTIME/,/.}" "$rc" "" >>"$OUT/probes.out"
    return
  fi
  # Without dlpod, one process for all connections: bash's /dev/tcp needs no fork per connection.
  # UDP and SCTP take one socat per connection (bash reads a socket byte by byte, and a datagram
  # socket drops the rest of a datagram at the first byte read; /dev/sctp does not exist).
  # The script is a constant: every value reaches it as an argument ($1…$5), never as text.
  ip netns exec "$ns" timeout "$((to * count + 5))" bash -c '
    for ((i = 1; i <= $3; i++)); do
      if [[ $5 != tcp ]]; then
        if [[ $5 == udp ]]; then
          body=$(printf "probe %s\n" "$i" | socat -T "$4" -t "$4" "UDP:$1:$2,null-eof" STDIO)
        else
          body=$(socat -T "$4" -u "SCTP-CONNECT:$1:$2,connect-timeout=$4" STDOUT)
        fi
        if [[ $? == 0 && -n $body ]]; then printf "%s\t0\t%s\n" "$i" "${body//[$'"'\r\n'"']/ }"; else printf "%s\t1\t\n" "$i"; fi
        continue
      fi
      if exec 3<>"/dev/tcp/$1/$2"; then
        body=""; while IFS= read -r -t "$4" line <&3; do body+="${line//$'"'\r'"'/} "; done
        exec 3<&- 3>&-
        printf "%s\t0\t%s\n" "$i" "$body"
      else
        printf "%s\t1\t\n" "$i"
      fi
    done' _ "$ip" "$port" "$count" "$to" "$proto" >"$OUT/bulk-$id.tsv" 2>"$OUT/probe-$id.err"
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "bulk" "$t0" "$(now)" "$?" "" >>"$OUT/probes.out"
}

# State dumps that do not depend on a probe (tables as built), after the probes if there are any.
final_dumps() { dumps_from "$JOB/dumps.tsv" final; }

# Counters before the probes, on a lab that is up and has seen traffic already (lab check, lab
# probe write JOB/baseline.tsv, lines as in dumps.tsv): the first probe's baseline.
baseline_dumps() { dumps_from "$JOB/baseline.tsv" baseline; }

UNANSWERED=0
run_probes() {
  [[ -s $JOB/probes.tsv ]] || { final_dumps; return 0; }
  start_captures
  baseline_dumps
  wait_listeners
  captures_ready
  event "captures-ready"
  local line n=0
  while IFS= read -r line || [[ -n $line ]]; do
    [[ -z $line || $line == \#* ]] && continue
    n=$((n + 1))
    local -a f
    IFS=$'\t' read -r -a f <<<"$line"
    local id=${f[0]} ns=${f[1]} ip=${f[2]} port=${f[3]} attempts=${f[4]} to=${f[5]} want=${f[6]} mode=${f[7]} dumps=${f[8]:-} sport=${f[9]:-} proto=${f[10]:-tcp}
    # Numbers are checked before any arithmetic (bash evaluates a[$(cmd)] in arithmetic context).
    local v
    for v in "$port" "$attempts" "$to" "$sport"; do is_num "$v" && ((${#v} <= 6)) || fail "probe line $n: not a number: $v"; done
    [[ $id =~ ^[A-Za-z0-9_-]+$ ]] || fail "probe line $n: bad id"
    is_lab_ns "$ns" || fail "probe line $n: $ns is not a lab namespace"
    [[ $ip =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || fail "probe line $n: not an IPv4 address: $ip"
    [[ $mode == single || $mode == bulk ]] || fail "probe line $n: unknown mode $mode"
    [[ $proto == tcp || $proto == udp || $proto == sctp ]] || fail "probe line $n: unknown protocol $proto"
    event "probe-start	$id"
    if [[ $mode == bulk ]]; then
      probe_bulk "$id" "$ns" "$ip" "$port" "$attempts" "$to" "$proto"
    else
      probe_single "$id" "$ns" "$ip" "$port" "$attempts" "$to" "$want" "$sport" "$proto"
    fi
    local prc=$?
    event "probe-end	$id	$prc"
    ((prc == 0)) || [[ $mode != single ]] || UNANSWERED=1
    local d
    IFS=',' read -r -a d <<<"$dumps"
    local spec kind rest dns arg
    for spec in "${d[@]}"; do
      [[ -z $spec ]] && continue
      if [[ $spec == '?'* ]]; then ((UNANSWERED)) || continue; spec=${spec#?}; fi
      # kind:namespace[:value] — the value (a control socket, a pin folder) comes from the job.
      kind=${spec%%:*} rest=${spec#*:} dns=${rest%%:*} arg=""
      [[ $rest == *:* ]] && arg=${rest#*:}
      dump_group "$kind" "$dns" "$OUT/dump/$id.$kind.$dns.txt" "$arg" || dump "$kind" "$dns" "$OUT/dump/$id.$kind.$dns.txt" "$arg"
    done
    dump_all   # this probe's counters and tables, from one process
  done <"$JOB/probes.tsv"
  tool_failures "$OUT"/probe-*.err "$OUT"/daemon-*.log
  stop_captures
  final_dumps
}
