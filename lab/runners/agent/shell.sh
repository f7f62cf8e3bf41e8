# datapath-lab agent — `lab shell` inside a UML guest. Sourced by ../agent.sh (JOB, LAB, pause,
# is_lab_ns, is_num); the serve loop (lifecycle.sh) runs shell_session in the background.
#
# A terminal: the guest boots with consoles 2..5 on host pseudo-terminals (`conN=pts`, see
# https://www.kernel.org/doc/html/latest/virt/uml/user_mode_linux_howto_v2.html "Configuring
# UML devices"). The shell runs as a session leader with the console /dev/ttyN as its controlling
# terminal, so the guest kernel's line discipline gives job control and turns Ctrl-C into SIGINT
# for the foreground job; bytes reach the host with no polling. The host learns which host pty
# belongs to the console from the kernel's "Virtual console N assigned device" line.
#
# Protocol (files in $JOB/ctl, host → guest found by glob, never by a looked-up name: hostfs
# caches negative lookups): <id>.tty (guest: the host pty to open) → <id>.go (host: attached and
# drained) → shell runs → <id>.rc. <id>.hup ends it; the host renews <id>.beat.<n> every 2 s and
# a session without a fresh one for 15 s is hung up (a host CLI that was killed); a new window
# size comes as <id>.size-<n>-<rows>x<cols>.
#
# Pipe mode (the host's stdin is not a terminal): `bash -s` reads <id>.in, writes <id>.out.
#
# When the shell ends, every process of its session is killed (a tcpdump left running in the
# background too): found by the session id in /proc/PID/stat, without starting a process.

# The shell's own code is constant: names reach it as environment values, never as code. (The
# prompt goes as DL_PS1: a non-interactive bash, as `bash -c` is, unsets PS1.)
SHELL_WRAP_TTY='printf "%s\n" "$$" >"$DL_SID_FILE"; export PS1=$DL_PS1; exec ip netns exec "$DL_NS" bash --norc -i'
SHELL_WRAP_PIPE='printf "%s\n" "$$" >"$DL_SID_FILE"; exec ip netns exec "$DL_NS" bash --norc -s'

shell_done() {  # ID RC
  printf '%s\n' "$2" >"$JOB/ctl/$1.rc.tmp" && mv "$JOB/ctl/$1.rc.tmp" "$JOB/ctl/$1.rc"
}

# kill_session SID: HUP, then KILL, every process whose session is SID (field 6 of /proc/PID/stat).
kill_session() {
  is_num "${1:-}" || return 0
  local sig st pid f
  local -a sf victims
  for sig in HUP KILL; do
    victims=()
    for f in /proc/[0-9]*/stat; do
      read -r st 2>/dev/null <"$f" || continue
      pid=${st%% *}
      st=${st##*) }
      read -r -a sf <<<"$st"
      [[ ${sf[3]:-} == "$1" ]] && victims+=("$pid")
    done
    ((${#victims[@]})) || return 0
    kill "-$sig" "${victims[@]}" 2>/dev/null
    [[ $sig == HUP ]] && pause 0.3
  done
}

# host_pty N: the host pseudo-terminal UML gave console N (printed when it was first opened).
host_pty() {
  local line pty=""
  while IFS= read -r line; do
    [[ $line =~ Virtual\ console\ $1\ assigned\ device\ \'(/dev/pts/[0-9]+)\' ]] && pty=${BASH_REMATCH[1]}
  done < <(dmesg 2>/dev/null)
  printf '%s' "$pty"
}

# wait_for ID SUFFIX SECONDS: until $ctl/<id>.<suffix> exists (by glob) or <id>.hup does.
wait_for() {
  local f end=$((SECONDS + $3))
  while ((SECONDS < end)); do
    for f in "$JOB/ctl/$1".*; do
      [[ $f == "$JOB/ctl/$1.hup" ]] && return 1
      [[ $f == "$JOB/ctl/$1.$2" ]] && return 0
    done
    pause 0.05
  done
  return 1
}

# watch_tty ID PID N: until PID ends, the host hangs up, or its heartbeat stops. The host's
# window size comes as <id>.size-<n>-<rows>x<cols>; setting it on the console makes the kernel
# send SIGWINCH to the foreground job (tty_ioctl(4), TIOCSWINSZ).
watch_tty() {
  local f beat="" seen="" last=$SECONDS size=0
  while kill -0 "$2" 2>/dev/null; do
    seen=""
    for f in "$JOB/ctl/$1".*; do
      [[ $f == "$JOB/ctl/$1.hup" ]] && return 0
      [[ $f == "$JOB/ctl/$1.beat."* ]] && seen=$f
      if [[ ${f##*/} =~ ^$1\.size-([0-9]{1,9})-([0-9]{1,4})x([0-9]{1,4})$ ]] && ((BASH_REMATCH[1] > size)); then
        size=${BASH_REMATCH[1]}
        stty -F "/dev/tty$3" rows "${BASH_REMATCH[2]}" cols "${BASH_REMATCH[3]}" 2>/dev/null
      fi
    done
    [[ -n $seen && $seen != "$beat" ]] && { beat=$seen; last=$SECONDS; }
    ((SECONDS - last > 15)) && return 0
    pause 0.5
  done
}

shell_session() {  # ID NS MODE ROWS COLS OBJECT
  local id=$1 ns=$2 mode=$3 rows=$4 cols=$5 obj=$6 ctl=$JOB/ctl
  if ! [[ $id =~ ^[0-9-]+$ ]] || ! is_lab_ns "$ns" || [[ ! -e /run/netns/$ns ]] || ! is_num "$rows" || ! is_num "$cols" \
     || ! [[ $obj =~ ^[A-Za-z0-9_.-]{1,63}$ ]] || [[ $mode != tty && $mode != pipe ]]; then
    printf 'agent: not a shell of lab %s\n' "$LAB" >"$ctl/$id.out"; shell_done "$id" 2; return
  fi
  local sidf=/run/tmp/shell-$id.sid rc=0 sid=""
  export DL_SID_FILE=$sidf DL_NS=$ns DL_PS1="[$obj@uml $LAB]# " TERM=xterm
  if [[ $mode == pipe ]]; then
    setsid -w bash -c "$SHELL_WRAP_PIPE" <"$ctl/$id.in" >"$ctl/$id.out" 2>&1
    rc=$?
  else
    local n="" c fd pty pid
    mkdir -p /run/dl-shell
    set -C   # claim a free console: an exclusive create, no process
    for c in 2 3 4 5; do { : >"/run/dl-shell/tty$c"; } 2>/dev/null && { n=$c; break; }; done
    set +C
    if [[ -z $n ]]; then
      printf 'agent: every console of this guest already has a shell (4): end one first\n' >"$ctl/$id.out"; shell_done "$id" 2; return
    fi
    exec {fd}<>"/dev/tty$n"
    pty=$(host_pty "$n")
    if [[ -z $pty ]]; then
      printf 'agent: console %s has no host terminal (a lab brought up before lab shell had terminals: take it down and up again)\n' "$n" >"$ctl/$id.out"; rc=10
    else
      printf '%s\n' "$pty" >"$ctl/$id.tty"
      if wait_for "$id" go 30; then
        stty -F "/dev/tty$n" sane rows "$rows" cols "$cols" 2>/dev/null
        # `env --default-signal`: a job started with & by this non-interactive bash ignores SIGINT
        # and SIGQUIT (POSIX, "Asynchronous Lists"), and so would every command of the shell.
        setsid -w -c env --default-signal=INT,QUIT bash -c "$SHELL_WRAP_TTY" <&"$fd" >&"$fd" 2>&"$fd" {fd}>&- &
        pid=$!
        watch_tty "$id" "$pid" "$n"
        kill -0 "$pid" 2>/dev/null || { wait "$pid"; rc=$?; }
      fi
    fi
    exec {fd}>&-
  fi
  [[ -r $sidf ]] && read -r sid <"$sidf"
  kill_session "$sid"
  [[ -n ${n:-} ]] && rm -f "/run/dl-shell/tty$n" "$sidf"
  shell_done "$id" "$rc"
}
