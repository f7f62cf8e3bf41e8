#!/bin/bash
# UML end-to-end smoke test of the tc eBPF service load balancer (bpf/lb4.c).
#
#   scripts/uml-ebpf-smoke.sh            # on the host: build, boot UML, report, clean up
#   KEEP=1 scripts/uml-ebpf-smoke.sh     # keep the output directory (pcaps, dumps, log)
#
# The same file is the UML init (PID 1): the host part boots Debian's
# user-mode-linux kernel (6.1, BPF interpreter, no kernel BTF) with the host's
# root file system as hostfs and init=<this file>. Inside, two topologies are
# built, each with the program attached on the client pod's eth0 (tc clsact,
# egress DNAT + ingress reverse NAT), loaded with exactly the commands of
# lab/services/ebpf/loader.ts and filled with maps.ts's bpftool batch:
#   veth:    vcli 10.0.3.5 <-veth-> vsrv 10.0.3.38
#   ipvlan:  Terway IPVLAN L2: node netns has the "ENI" eth1 (dummy); pods icli
#            10.0.3.5 and isrv 10.0.3.38 each have an ipvlan L2 slave as eth0;
#            isrv runs the program too, with icli's service maps shared
#            (loader.ts shareMapsFrom).
#   pcli:    program loaded for BPF_PROG_TEST_RUN timings on the interpreter.
# Services: 192.168.27.242:80/TCP -> 10.0.3.38:80, 192.168.27.242:53/UDP -> 10.0.3.38:5353,
# 192.168.27.243:80/TCP -> {10.0.3.38:80, 10.0.3.39:80} (the server pod has both addresses).
# Checks: TCP (socat, curl, python getpeername) and UDP replies through the
# ClusterIP, the server sees the client pod IP, tcpdump on both pods' eth0 sees
# no ClusterIP, captured client checksums are full-valid or the
# CHECKSUM_PARTIAL pseudo-header sum. Results are written to $OUT (a host dir
# reached through hostfs); the UML exit code is the number of failed checks,
# the script's exit code is 0 only if UML and the host-side checksum check pass.
# On hosts whose CPU has AMX, Debian's UML 6.1 cannot boot without the ptrace
# shim built below (see the comment there).
#
# Host needs: user-mode-linux, kmod, clang, libbpf-dev, bpftool, iproute2,
# socat, tcpdump, curl, python3, Node 24 (node_modules/.bin/node).
set -u

VIP=192.168.27.242
VIP2=192.168.27.243
CLIENT=10.0.3.5
SERVER=10.0.3.38
SERVER2=10.0.3.39

# ----------------------------------------------------------------------------
# Inside UML (PID 1)
uml_init() {
	export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	export HOME=/root
	OUT=${DLT_OUT:?}
	mount -t proc proc /proc
	mount -t sysfs sysfs /sys
	mount -t tmpfs tmpfs /run
	mkdir -p /run/netns
	mount -t tmpfs tmpfs /lib/modules
	mkdir -p /lib/modules/"$(uname -r)"
	mount --bind /usr/lib/uml/modules/"$(uname -r)" /lib/modules/"$(uname -r)"
	mount -t bpf bpf /sys/fs/bpf
	exec >"$OUT/uml.log" 2>&1
	fails=0
	ok() { echo "PASS $*"; }
	ko() { echo "FAIL $*"; fails=$((fails + 1)); }
	now() { date +%s.%N; }
	ms() { echo "$1 $2" | awk '{printf "%.0f", ($2 - $1) * 1000}'; }

	echo "## kernel $(uname -r) $(uname -m); jit: $(cat /proc/sys/net/core/bpf_jit_enable 2>/dev/null || echo absent); kernel BTF: $([ -e /sys/kernel/btf/vmlinux ] && echo yes || echo no)"
	t0=$(now)
	modprobe -a veth dummy ipvlan sch_ingress cls_bpf || ko "modprobe"
	echo "modprobe: $(ms "$t0" "$(now)") ms"

	# ---- veth topology
	ip netns add vcli; ip netns add vsrv
	ip -n vcli link add eth0 type veth peer name eth0 netns vsrv
	# ---- Terway IPVLAN L2 topology (notes/domain.md §1.4)
	ip netns add icli; ip netns add isrv
	ip link add eth1 type dummy; ip link set eth1 up
	for p in icli isrv; do
		ip link add link eth1 name "ipv-$p" type ipvlan mode l2
		ip link set "ipv-$p" netns "$p"
		ip -n "$p" link set "ipv-$p" name eth0
	done
	for t in v i; do
		ip -n ${t}cli addr add $CLIENT/24 dev eth0
		ip -n ${t}srv addr add $SERVER/24 dev eth0
		ip -n ${t}srv addr add $SERVER2/24 dev eth0
		for n in ${t}cli ${t}srv; do ip -n $n link set lo up; ip -n $n link set eth0 up; done
	done
	ip -n vcli route add default via $SERVER dev eth0
	# Terway: default via the vSwitch gateway, onlink. There is no gateway behind the
	# dummy ENI, so the gateway resolves to the pod's own (shared ipvlan) MAC: after
	# DNAT ipvlan switches the frame to the slave that owns the backend IP.
	imac=$(cat /sys/class/net/eth1/address)
	ip -n icli route add default via 10.0.3.253 dev eth0 onlink
	ip -n icli neigh add 10.0.3.253 lladdr "$imac" dev eth0 nud permanent

	# ---- load + attach + fill (commands generated from loader.ts / maps.ts on the host)
	ip netns add pcli
	ip -n pcli link add eth0 type veth peer name peer0
	for p in pcli vcli icli isrv; do
		t0=$(now)
		sh -e "$OUT/plan-$p.sh" || ko "load/attach $p"
		t1=$(now)
		if [ -s "$OUT/fill-$p.batch" ]; then bpftool batch file "$OUT/fill-$p.batch" || ko "fill maps $p"; fi
		echo "$p: load+attach $(ms "$t0" "$t1") ms, map fill (one bpftool batch) $(ms "$t1" "$(now)") ms"
	done
	bpftool prog show pinned /sys/fs/bpf/lab/vcli/from_container
	bpftool prog show pinned /sys/fs/bpf/lab/vcli/to_container
	bpftool prog show pinned /sys/fs/bpf/lab/vcli/from_container | grep -q 'not jited' && ok "interpreter (not jited)"
	nsenter --net=/run/netns/vcli tc filter show dev eth0 egress
	nsenter --net=/run/netns/vcli tc filter show dev eth0 ingress

	# ---- BPF_PROG_TEST_RUN on the interpreter
	# (No "repeat N": the test-run skb keeps the rewrite of the previous repetition, so
	# repetitions 2..N would see a backend address, i.e. the non-service path.)
	# syn.bin run 1 = new connection (backend selection + 2 CT inserts), runs 2-5 =
	# established (CT hit), other.bin = pod-to-pod traffic (not a service).
	for f in syn syn syn syn syn other other other; do
		r=$(bpftool -j prog run pinned /sys/fs/bpf/lab/pcli/from_container data_in "$OUT/$f.bin" data_out "$OUT/$f.out")
		echo "prog run $f: $r"
	done
	cmp -s "$OUT/other.bin" "$OUT/other.out" && ok "prog run: pod-to-pod frame unchanged" || ko "prog run: pod-to-pod frame changed"
	cmp -s "$OUT/syn.bin" "$OUT/syn.out" && ko "prog run: ClusterIP frame not translated" || ok "prog run: ClusterIP frame translated"

	for t in v i; do
		cli=${t}cli; srv=${t}srv
		echo "## topology $([ $t = v ] && echo veth || echo ipvlan-l2)"
		tt=$(now)
		ip netns exec $srv socat TCP-LISTEN:80,fork,reuseaddr EXEC:"$OUT/http.sh" &
		srv_tcp=$!
		ip netns exec $srv socat UDP-RECVFROM:5353,fork EXEC:"$OUT/udp.sh" &
		srv_udp=$!
		ip netns exec $cli tcpdump -U -n -i eth0 -w "$OUT/cap-$cli.pcap" 2>/dev/null &
		cap1=$!
		ip netns exec $srv tcpdump -U -n -i eth0 -w "$OUT/cap-$srv.pcap" 2>/dev/null &
		cap2=$!
		sleep 1.5

		t0=$(now)
		r=$(timeout 8 ip netns exec $cli socat -t 3 -T 3 - TCP:$VIP:80,connect-timeout=3 </dev/null)
		echo "socat tcp ($(ms "$t0" "$(now)") ms): $(echo "$r" | tail -1)"
		echo "$r" | grep -q "hello from nginx peer=$CLIENT via=$SERVER" && ok "$t tcp via ClusterIP, server sees client IP" || ko "$t tcp via ClusterIP: $r"
		r=$(timeout 8 ip netns exec $cli curl -s --max-time 3 http://$VIP/)
		[ "${r#hello from nginx}" != "$r" ] && ok "$t curl http://$VIP/" || ko "$t curl: $r"
		r=$(timeout 8 ip netns exec $cli python3 -c '
import socket, sys
s = socket.create_connection((sys.argv[1], 80), timeout=3)
s.sendall(b"GET / HTTP/1.0\r\n\r\n")
peer = s.getpeername()
data = b""
while True:
    d = s.recv(4096)
    if not d:
        break
    data += d
print("peer", peer[0], peer[1], data.decode().split("\r\n\r\n")[-1].strip())
' $VIP)
		echo "python: $r"
		[ "${r#peer $VIP 80 hello}" != "$r" ] && ok "$t getpeername() = ClusterIP:80" || ko "$t getpeername: $r"
		r=$(echo ping | timeout 8 ip netns exec $cli socat -t 3 -T 2 - UDP:$VIP:53)
		echo "udp: $r"
		[ "$r" = "udp hello peer=$CLIENT" ] && ok "$t udp $VIP:53 -> $SERVER:5353" || ko "$t udp: $r"
		for i in 1 2 3 4 5; do timeout 8 ip netns exec $cli socat -t 3 -T 3 - TCP:$VIP:80 </dev/null | grep -q "peer=$CLIENT" || ko "$t tcp round $i"; done
		: >"$OUT/lb-$t.txt"
		for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
			timeout 8 ip netns exec $cli socat -t 3 -T 3 - TCP:$VIP2:80 </dev/null | sed -n 's/.*via=//p' >>"$OUT/lb-$t.txt"
		done
		echo "12 connections to $VIP2:80 answered by: $(sort "$OUT/lb-$t.txt" | uniq -c | tr '\n' ' ')"
		[ "$(sort -u "$OUT/lb-$t.txt" | wc -l)" = 2 ] && ok "$t two backends behind $VIP2" || ko "$t load balancing over two backends"

		sleep 0.5
		kill -INT $cap1 $cap2; kill $srv_tcp $srv_udp
		wait $cap1 $cap2 2>/dev/null
		for c in $cli $srv; do
			n=$(tcpdump -r "$OUT/cap-$c.pcap" -n host $VIP or host $VIP2 2>/dev/null | wc -l)
			all=$(tcpdump -r "$OUT/cap-$c.pcap" -n 2>/dev/null | wc -l)
			echo "tcpdump $c eth0: $all packets, $n mention $VIP or $VIP2"
			[ "$n" = 0 ] && [ "$all" -gt 0 ] && ok "$t no ClusterIP on $c eth0" || ko "$t ClusterIP captured on $c eth0"
		done
		for m in lb4_services_v2 lb4_backends lb4_reverse_nat lb4_ct; do
			bpftool -j map dump pinned /sys/fs/bpf/lab/${cli}/maps/$m >"$OUT/dump-$cli-$m.json"
		done
		echo "topology checks took $(ms "$tt" "$(now)") ms"
	done
	echo "uptime at the end: $(cut -d' ' -f1 /proc/uptime) s"
	echo "fails=$fails"
	echo "$fails" >"$OUT/fails"
	sync
	echo "$fails" >/proc/exitcode
	poweroff -f -f
}

if [ "$$" = 1 ]; then
	uml_init
	exit 0
fi

# ----------------------------------------------------------------------------
# Host
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NODE=$ROOT/node_modules/.bin/node
for c in linux.uml clang bpftool python3; do
	command -v $c >/dev/null || { echo "uml-ebpf-smoke: $c missing" >&2; exit 2; }
done
[ -x "$NODE" ] || { echo "uml-ebpf-smoke: $NODE missing (npm install)" >&2; exit 2; }
# No '.' in the path: the kernel command line carries it, keep it simple.
OUT=$(mktemp -d /tmp/dltumlXXXXXX)
UMLDIR=$OUT/uml
mkdir -p "$UMLDIR"
cleanup() {
	rm -rf "$UMLDIR"
	[ "${KEEP:-0}" = 1 ] && echo "kept $OUT" || rm -rf "$OUT"
}
trap cleanup EXIT

"$ROOT/scripts/build-bpf.sh" "$OUT" >/dev/null || exit 2

# Load plans and map contents, from the project's TypeScript (pure functions).
ROOT=$ROOT OUT=$OUT VIP=$VIP VIP2=$VIP2 SERVER=$SERVER SERVER2=$SERVER2 "$NODE" --input-type=module <<'JS' || exit 2
import { writeFileSync } from "node:fs";
const { ROOT, OUT, VIP, VIP2, SERVER, SERVER2 } = process.env;
const { ebpfLoadSteps, ebpfPinPaths } = await import(`${ROOT}/lab/services/ebpf/loader.ts`);
const { encodeServiceTable, toBpftoolBatch } = await import(`${ROOT}/lab/services/ebpf/maps.ts`);
const table = [
  { vip: VIP, port: 80, proto: "TCP", revNatId: 1, backends: [{ ip: SERVER, port: 80 }] },
  { vip: VIP, port: 53, proto: "UDP", revNatId: 2, backends: [{ ip: SERVER, port: 5353 }] },
  { vip: VIP2, port: 80, proto: "TCP", revNatId: 3, backends: [{ ip: SERVER, port: 80 }, { ip: SERVER2, port: 80 }] },
];
const q = (a) => `'${a.replace(/'/g, `'\\''`)}'`;
// Both ipvlan pods get the program (as in Terway); they share one service table.
const pods = [["pcli"], ["vcli"], ["icli"], ["isrv", "/sys/fs/bpf/lab/icli/maps"]];
for (const [pod, share] of pods) {
  const pinDir = `/sys/fs/bpf/lab/${pod}`;
  const steps = ebpfLoadSteps({ netns: pod, pinDir, object: `${OUT}/lb4.o`, shareMapsFrom: share });
  writeFileSync(`${OUT}/plan-${pod}.sh`, steps.map((s) => `# ${s.why}\n${s.argv.map(q).join(" ")}\n`).join(""));
  writeFileSync(`${OUT}/fill-${pod}.batch`, share ? "" : toBpftoolBatch(encodeServiceTable(table, ebpfPinPaths(pinDir).maps)));
}
JS

# Backend servers (run by socat EXEC inside UML): read the request, answer with the peer address.
cat >"$OUT/http.sh" <<'SH'
#!/bin/bash
while IFS= read -r -t 2 l; do l=${l%$'\r'}; [ -z "$l" ] && break; done
printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello from nginx peer=%s via=%s\n' "$SOCAT_PEERADDR" "$SOCAT_SOCKADDR"
SH
cat >"$OUT/udp.sh" <<'SH'
#!/bin/sh
printf 'udp hello peer=%s\n' "$SOCAT_PEERADDR"
SH
chmod +x "$OUT/http.sh" "$OUT/udp.sh"

# Two frames for bpftool prog run: a SYN to the ClusterIP and a pod-to-pod SYN.
python3 - "$OUT" "$VIP" "$CLIENT" "$SERVER" <<'PY'
import socket, struct, sys
out, vip, cli, srv = sys.argv[1:]
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
def frame(src, dst, sport, dport):
    s, d = socket.inet_aton(src), socket.inet_aton(dst)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, 2, 64240, 0, 0)
    tcp = tcp[:16] + struct.pack("!H", csum(s + d + struct.pack("!BBH", 0, 6, len(tcp)) + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0, s, d)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return bytes.fromhex("020000000002020000000001") + b"\x08\x00" + ip + tcp
open(f"{out}/syn.bin", "wb").write(frame(cli, vip, 40000, 80))
open(f"{out}/other.bin", "wb").write(frame(cli, srv, 40001, 80))
PY

# Debian's UML 6.1 passes a fixed-size (AVX-512-sized, 2696 B) XSAVE buffer to
# ptrace(PTRACE_SETREGSET, NT_X86_XSTATE). Host kernels require the full host
# XSAVE size there (arch/x86/kernel/fpu/regset.c xstateregs_set: count !=
# fpu_user_cfg.max_size -> -EFAULT), which is larger on CPUs with AMX, so UML
# dies at the first user process: "userspace - ptrace set fp regs failed,
# errno = 14" + "Kernel panic - not syncing: Attempted to kill init!" (SIGABRT).
# This LD_PRELOAD shim pads that one request to the host size (the extra
# components, AMX tile state UML never uses, keep their current values). Where
# the sizes match it passes everything through. DLT_UML_SHIM=0 disables it.
PRELOAD=
if [ "${DLT_UML_SHIM:-1}" != 0 ] && command -v cc >/dev/null; then
	# The same shim the UML runner uses (lab/runners/native/uml-xstate-shim.c).
	cc -O2 -shared -fPIC -o "$OUT/xstate-shim.so" "$ROOT/lab/runners/native/uml-xstate-shim.c" -ldl && PRELOAD=$OUT/xstate-shim.so
fi

echo "booting UML (output in $OUT)${PRELOAD:+ with the XSAVE-size ptrace shim}"
start=$(date +%s.%N)
TMPDIR=$UMLDIR LD_PRELOAD=$PRELOAD timeout 300 linux.uml mem=512M rootfstype=hostfs rootflags=/ rw \
	init="$ROOT/scripts/uml-ebpf-smoke.sh" DLT_OUT="$OUT" \
	umid=dltebpf$$ uml_dir="$UMLDIR" con=null con0=null,fd:1 </dev/null >"$OUT/console.log" 2>&1
rc=$?
end=$(date +%s.%N)
echo "UML exited with $rc after $(echo "$start $end" | awk '{printf "%.1f", $2 - $1}') s"
cat "$OUT/uml.log" 2>/dev/null || { echo "no uml.log; console:"; tail -30 "$OUT/console.log"; }

# lb list from the dumped maps, printed by maps.ts
for cli in vcli icli; do
	[ -s "$OUT/dump-$cli-lb4_services_v2.json" ] || continue
	echo "## lab lb list ($cli, read back from the UML kernel)"
	ROOT=$ROOT D="$OUT/dump-$cli" "$NODE" --input-type=module <<'JS'
import { readFileSync } from "node:fs";
const { ROOT, D } = process.env;
const m = await import(`${ROOT}/lab/services/ebpf/maps.ts`);
const r = (n) => readFileSync(`${D}-${n}.json`, "utf8");
process.stdout.write(m.formatLbList(m.parseLbMapsDump({ services: r("lb4_services_v2"), backends: r("lb4_backends"), revNat: r("lb4_reverse_nat") }), { trimTrailingSpace: true }));
console.log("## CT");
process.stdout.write(m.formatCtList(m.decodeCtDump(r("lb4_ct"))));
JS
done

# Checksums of the captured client packets: full-valid, or CHECKSUM_PARTIAL
# (field = folded pseudo-header sum over the rewritten addresses), or bad.
python3 - "$OUT" "$CLIENT" <<'PY' || rc=$((rc + 1))
import struct, sys, glob
out, client = sys.argv[1], sys.argv[2]
def fold(s):
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return s
def sum16(b):
    if len(b) % 2: b += b"\0"
    return fold(sum(struct.unpack("!%dH" % (len(b) // 2), b)))
bad = 0
for f in sorted(glob.glob(f"{out}/cap-*cli.pcap")):
    data = open(f, "rb").read()
    off, stats = 24, {}
    while off + 16 <= len(data):
        incl = struct.unpack("<I", data[off + 8:off + 12])[0]
        pkt = data[off + 16:off + 16 + incl]; off += 16 + incl
        if len(pkt) < 34 or pkt[12:14] != b"\x08\x00": continue
        ihl = (pkt[14] & 15) * 4; proto = pkt[23]
        if proto not in (6, 17) or ".".join(map(str, pkt[26:30])) != client: continue
        tot = struct.unpack("!H", pkt[16:18])[0]
        l4 = pkt[14 + ihl:14 + tot]
        co = 16 if proto == 6 else 6
        field = struct.unpack("!H", l4[co:co + 2])[0]
        pseudo = pkt[26:34] + struct.pack("!BBH", 0, proto, len(l4))
        kind = "full" if sum16(pseudo + l4) == 0xffff else "partial" if field == sum16(pseudo) else "bad"
        name = ("tcp" if proto == 6 else "udp") + " " + kind
        stats[name] = stats.get(name, 0) + 1
        bad += kind == "bad"
    print(f"checksums {f.split('/')[-1]}: {stats}")
print("PASS checksums" if bad == 0 else f"FAIL {bad} bad checksums")
sys.exit(1 if bad else 0)
PY
echo "result: rc=$rc"
exit $rc
