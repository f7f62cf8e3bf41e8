# datapath-lab agent — the tc eBPF load balancer's set-up from one process (dlbpf). Sourced by
# ../agent.sh, which sets JOB, OUT, LAB, the journal and the helpers used here (DLBPF: native/dlbpf.c,
# empty when missing or DL_DLBPF=off: then build() runs each step with run_step / host_step, one
# bpftool or nsenter + tc process per step); never run on its own.

# bpf_group N LINE KIND ARGS...: appends manifest step N, a step of the tc eBPF set-up (host mkdir
# -p, host bpftool prog loadall, host bpftool batch file, nsenter NS tc -batch FILE), as "ARGC
# KIND ARGS..." to dlbpf's list (native/dlbpf.c setup: the whole set-up from one process, each
# step checked there as host_step checks it). Fails (nothing added) for any other step.
bpf_group() {
  local n=$1 line=$2
  shift 2
  case "$1 ${2:-} ${3:-}" in
    "host mkdir -p" | "host bpftool prog" | "host bpftool batch") ;;
    "nsenter "*" tc") [[ ${4:-} == -batch ]] && is_lab_ns "$2" || return 1 ;;
    *) return 1 ;;
  esac
  NSRUN_ARGS+=("$#" "$@")
  NSRUN_STEPS+=("$n	$1	${2:-}")
  NSRUN_LINES+=("$line")
}

# bpf_setup: called by build() once bpf_group took its step i — the steps that follow while
# bpf_group takes them (every pod's load and tc filters, the map batch), then the lab's bpffs folder
# journalled before anything is made in it (as host_step's mkdir does), then one dlbpf for all of
# them; its status lines give each step's end (nsrun_steps). Uses build()'s i, n and lines.
bpf_setup() {
  local first=$n
  group_more bpf_group
  journal "bpffs	/sys/fs/bpf/dl-$LAB" || { printf '%s\n' "$JOURNAL_FAILED" >"$OUT/build-error"; return 13; }
  nsrun_steps "$DLBPF" setup "$LAB" "$JOB" "$first"
}
