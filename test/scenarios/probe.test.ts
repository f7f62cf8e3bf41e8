// The ad-hoc probe of the workshop loop on a live lab: `lab up`, then `lab probe FROM TO[:PORT]`
// — its verdict against the packets it captured (the pcapng it wrote, read by our reader and by
// `tcpdump -r`), a refused port, a security group's drop on a lab whose counters already moved,
// `lab check --pcap`, and bad input refused with nothing changed on the lab. Always `lab down ID`.
import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packetsFromPcapng, readPcapng } from '../../lab/evidence/pcapng.ts';
import { findLab } from '../../lab/state/labs.ts';

const cli = path.join(import.meta.dirname, '..', '..', 'lab', 'cli.ts');
const lab = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 300_000, env: { ...process.env, NO_COLOR: '1' } });
const dir = mkdtempSync(path.join(os.tmpdir(), 'dl-probe-test-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

interface ProbeDoc {
  labId: string;
  error?: string;
  probe: { reachable: boolean; answeredBy?: string; target: string; path: { hop: string; dir: string; src: string; dst: string }[]; attempts: { sport: number }[] };
  verdict: { kind: string; object?: string; at?: string; by?: string; summary: string };
  rewrites: { object: string; field: string; before: string; after: string; by: string }[];
  conntrack: { object: string; entries: string[] }[];
  pcap?: string;
}

function up(t: ExecutionContext, id: string, runner: string): string {
  const r = lab(['up', id, '--runner', runner]);
  t.is(r.status, 0, r.stderr);
  const labId = /lab ([0-9a-f]{6}) is up/.exec(r.stdout)?.[1];
  if (!labId) throw new Error(`no lab id in: ${r.stdout}\n${r.stderr}`);
  return labId;
}

function down(t: ExecutionContext, labId: string): void {
  const r = lab(['down', labId]);
  t.is(r.status, 0, r.stderr);
}

/** The pcapng a verb wrote: every interface named object:iface, and tcpdump -r reads every frame. */
function checkPcap(t: ExecutionContext, file: string): ReturnType<typeof packetsFromPcapng> {
  const { interfaces, frames } = readPcapng(readFileSync(file));
  t.true(interfaces.length > 1, 'more than one interface');
  for (const i of interfaces) t.regex(i.name, /^[A-Za-z0-9_.-]+:[A-Za-z0-9_.@-]+$/, `interface name ${i.name}`);
  t.true(frames.length > 0, 'no frame captured');
  const d = spawnSync('tcpdump', ['-nn', '-r', file], { encoding: 'utf8' });
  t.is(d.status, 0, d.stderr);
  t.is(d.stdout.trim().split('\n').length, frames.length, 'tcpdump reads every frame');
  return packetsFromPcapng(readFileSync(file));
}

/** A service scenario per runner (the host kernel here has no IPVS: natively, iptables kube-proxy). */
const CASES = [
  {
    runner: 'uml', id: 'eniip-5', from: 'centos', to: 'svc/nginx1:externalIP', vip: '10.0.3.63', port: 80, node: 'ecs1', by: 'IPVS',
    backends: { 'nginx-a': '10.0.1.104', 'nginx-b': '10.0.3.58' } as Record<string, string>,
    closed: { pod: 'nginx-b', ip: '10.0.3.58' }, noPort: 'ecs2', fromTypo: ['centoss', 'centos'], toTypo: ['svc/ngnix1', 'svc/nginx1'], notSender: ['vsw-a', 'vswitch'],
  },
  {
    runner: 'native', id: 'kproxy-1', from: 'toolbox', to: 'svc/nginx-demo-1', vip: '10.196.52.1', port: 8088, node: 'worker-a', by: 'DNAT',
    backends: { 'nginx-demo-1-7f67f8bdd8-k2x9p': '10.217.120.5', 'nginx-demo-1-7f67f8bdd8-fxptt': '10.217.120.72' } as Record<string, string>,
    closed: { pod: 'nginx-demo-1-7f67f8bdd8-fxptt', ip: '10.217.120.72' }, noPort: 'worker-b', fromTypo: ['toolbx', 'toolbox'], toTypo: ['svc/nginx-demo1', 'svc/nginx-demo-1'], notSender: ['tor1', 'router'],
  },
] as const;

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

for (const k of CASES) {
  test.serial(`lab probe on ${k.id} (${k.runner}): delivered to the backend the packets show, refused on a closed port, bad input changes nothing`, (t) => {
    const labId = up(t, k.id, k.runner);
    try {
      // FROM → the service (its first port by default): the node's service proxy picks one of two backends.
      const pcap = path.join(dir, `probe-${k.runner}.pcapng`);
      const r = lab(['probe', k.from, k.to, '--lab', labId, '--json', '--pcap', pcap]);
      t.is(r.status, 0, `${r.stdout.slice(0, 3000)}\n${r.stderr}`);
      t.regex(r.stderr, /capture written to /);
      const doc = JSON.parse(r.stdout) as ProbeDoc;
      t.is(doc.probe.target, `${k.vip}:${k.port}`);
      t.is(doc.verdict.kind, 'delivered', doc.verdict.summary);
      const backend = doc.probe.answeredBy!;
      const backendIp = k.backends[backend]!;
      t.truthy(backendIp, `answered by ${backend}`);
      t.is(doc.verdict.object, backend);
      t.is(doc.verdict.at, `${backend}:eth0`);
      const last = doc.probe.path.at(-1)!;
      t.deepEqual([last.hop, last.dir, last.dst], [`${backend}:eth0`, 'In', backendIp]);
      t.true(doc.rewrites.some((w) => w.by === k.by && w.object === k.node && w.before === k.vip && w.after === backendIp), JSON.stringify(doc.rewrites));
      // The capture agrees: this probe's SYN arrived at the backend that answered, readdressed to
      // it, the SYN-ACK left it, and no other backend saw the SYN. The SYN is followed by its
      // sequence number: a masquerade with --random-fully (eniip-5's Cluster-policy external IP)
      // also rewrites the source port.
      const sport = doc.probe.attempts[0]!.sport;
      const packets = checkPcap(t, pcap);
      const sent = packets.find((p) => p.flags === 'S' && p.sport === sport && p.object === k.from && p.dir === 'Out');
      if (!sent?.seq) throw new Error(`no SYN from ${k.from} with source port ${sport} in the capture`);
      const syns = packets.filter((p) => p.flags === 'S' && p.seq === sent.seq && p.object in k.backends && p.dir === 'In');
      t.deepEqual([...new Set(syns.map((p) => `${p.object}:${p.ifname} ${p.dst}`))], [`${backend}:eth0 ${backendIp}`]);
      t.true(packets.some((p) => p.flags === 'S.' && p.ack === ((sent.seq! + 1) >>> 0) && p.object === backend && p.dir === 'Out'), 'no SYN-ACK from the backend');
      // conntrack on the node holds the connection, service address → backend.
      const ct = doc.conntrack.find((c) => c.object === k.node);
      t.truthy(ct?.entries.find((e) => e.includes(`dst=${k.vip}`) && e.includes(`src=${backendIp}`) && e.includes(`sport=${sport}`)), JSON.stringify(doc.conntrack));

      // The same probe as text: printed like a scenario probe (verdict, path, the rewrite).
      const txt = lab(['probe', k.from, k.to, '--lab', labId]);
      t.is(txt.status, 0, txt.stderr);
      t.regex(txt.stdout, new RegExp(`lab probe: ${k.from} → ${esc(k.to)} \\(${esc(k.vip)}:${k.port}\\) — answered by \\S+`));
      t.regex(txt.stdout, /verdict: delivered at (\S+):eth0: answered by \1\n/);
      t.regex(txt.stdout, new RegExp(`★ ${k.by} in ${k.node}: destination ${esc(k.vip)} → `));
      t.regex(txt.stdout, new RegExp(`conntrack in ${k.node}:`));

      // A port nothing listens on: the pod's kernel answers with a reset. Never "delivered".
      const closed = lab(['probe', k.from, `${k.closed.pod}:81`, '--lab', labId, '--json']);
      t.is(closed.status, 1, `${closed.stdout.slice(0, 2000)}\n${closed.stderr}`);
      const c = JSON.parse(closed.stdout) as ProbeDoc;
      t.false(c.probe.reachable);
      t.is(c.verdict.kind, 'dropped');
      t.is(c.verdict.summary, `request refused at ${k.closed.pod}:eth0: a TCP reset from ${k.closed.pod}: nothing listens on ${k.closed.ip}:81`);

      // Bad input: exit 2, a suggestion, and nothing changed on the lab (no evidence moved, no probe run).
      const labDir = findLab(labId)!.dir;
      const before = readdirSync(path.join(labDir, 'out')).sort();
      const probeSeq = readFileSync(path.join(labDir, 'probe-seq'), 'utf8');
      const link = path.join(dir, `link-${k.runner}.pcapng`);
      const victim = path.join(dir, `someone-elses-${k.runner}`);
      writeFileSync(victim, 'keep\n');
      symlinkSync(victim, link);
      const bad: [string[], RegExp][] = [
        [['probe', k.fromTypo[0], k.to], new RegExp(`did you mean "${k.fromTypo[1]}"\\?`)],
        [['probe', k.from, k.toTypo[0]], new RegExp(`did you mean "${esc(k.toTypo[1])}"`)],
        [['probe', k.from, k.noPort], new RegExp(`no obvious port.*${k.noPort}:PORT`)],
        [['probe', k.from, k.closed.ip], new RegExp(`no obvious port.*${esc(k.closed.ip)}:PORT`)],
        [['probe', k.from, `${k.closed.pod}:70000`], /70000 is not a port/],
        [['probe', k.from, k.to, '--protocol', 'icmp'], /--protocol.*icmp.*tcp, udp, sctp/],
        [['probe', k.notSender[0], k.to], new RegExp(`is a ${k.notSender[1]} .*pod, node or client`)],
        [['probe', k.from, k.to, '--pcap', path.join(dir, 'missing', 'x.pcapng')], /--pcap/],
        [['probe', k.from, k.to, '--pcap', link], /--pcap: .* is a symbolic link/],
        [['check', '--pcap', link], /--pcap: .* is a symbolic link/],
      ];
      for (const [args, why] of bad) {
        const b = lab([...args, '--lab', labId]);
        t.is(b.status, 2, `${args.join(' ')}: ${b.stdout}\n${b.stderr}`);
        t.regex(b.stderr, why, args.join(' '));
      }
      t.is(readFileSync(victim, 'utf8'), 'keep\n');
      t.deepEqual(readdirSync(path.join(labDir, 'out')).sort(), before);
      t.is(readFileSync(path.join(labDir, 'probe-seq'), 'utf8'), probeSeq);

      // lab check --pcap on the same lab: the scenario passes again, and its capture is written too.
      const cpcap = path.join(dir, `check-${k.runner}.pcapng`);
      const chk = lab(['check', '--lab', labId, '--pcap', cpcap]);
      t.is(chk.status, 0, `${chk.stdout.slice(-2000)}\n${chk.stderr}`);
      t.regex(chk.stdout, new RegExp(`${k.id}: PASSED`));
      t.regex(chk.stderr, /capture written to /);
      const cp = checkPcap(t, cpcap);
      t.true(cp.some((p) => p.flags === 'S' && p.object === k.from && p.dst === k.vip), 'the check\'s SYN to the service is in its capture');
    } finally {
      down(t, labId);
    }
  });
}

test.serial('lab probe on trunk-8-deny (uml): the blocked pair is dropped by the security group, counted from this probe only', (t) => {
  const labId = up(t, 'trunk-8-deny', 'uml');
  try {
    // The scenario's own probes first: the deny rule's counter has moved before `lab probe` runs.
    const chk = lab(['check', '--lab', labId]);
    t.is(chk.status, 0, `${chk.stdout.slice(-2000)}\n${chk.stderr}`);
    const pcap = path.join(dir, 'trunk-8-deny.pcapng');
    const r = lab(['probe', 'centos', 'svc/nginx:clusterIP', '--lab', labId, '--json', '--pcap', pcap]);
    t.is(r.status, 1, `${r.stdout.slice(0, 3000)}\n${r.stderr}`);
    const doc = JSON.parse(r.stdout) as ProbeDoc;
    t.false(doc.probe.reachable);
    t.is(doc.verdict.kind, 'dropped', doc.verdict.summary);
    t.regex(doc.verdict.summary, /^request dropped at vsw-\w+:\S+ by DROP rule "security group sg-web-closed: default deny ingress" in vsw-\w+ at port \S+ .*\(counter \+(\d+)\)$/);
    // The counter is this probe's: as many as its SYNs that entered the vSwitch (the capture says how many).
    const moved = Number(/\(counter \+(\d+)\)$/.exec(doc.verdict.summary)![1]);
    const sport = doc.probe.attempts[0]!.sport;
    const packets = checkPcap(t, pcap);
    const atVswitch = packets.filter((p) => p.flags === 'S' && p.sport === sport && p.object === doc.verdict.object && p.dir === 'In');
    t.true(atVswitch.length > 0, 'the SYN entered the vSwitch');
    t.is(moved, atVswitch.length, `counter +${moved}, SYNs in: ${atVswitch.length}`);
    t.false(packets.some((p) => p.flags === 'S' && p.sport === sport && p.object === 'nginx'), 'nginx never saw the SYN');
  } finally {
    down(t, labId);
  }
});

// An ad-hoc UDP probe on a lab whose DNS Service has a UDP and a TCP port 53: by default the
// service port's protocol (UDP, the first), with --protocol tcp the other port; each with its own
// datagram or SYN in the capture and its own conntrack entry on the node.
test.serial('lab probe over UDP and TCP to kube-dns (kproxy-5, native): the protocol of the service port, or --protocol', (t) => {
  const labId = up(t, 'kproxy-5', 'native');
  try {
    for (const [proto, args] of [['udp', []], ['tcp', ['--protocol', 'tcp']]] as const) {
      const pcap = path.join(dir, `kube-dns-${proto}.pcapng`);
      const r = lab(['probe', 'toolbox', 'svc/kube-dns:53', ...args, '--lab', labId, '--json', '--pcap', pcap]);
      t.is(r.status, 0, `${proto}: ${r.stdout.slice(0, 3000)}\n${r.stderr}`);
      const doc = JSON.parse(r.stdout) as ProbeDoc;
      t.is(doc.verdict.kind, 'delivered', doc.verdict.summary);
      t.regex(doc.probe.answeredBy ?? '', /^coredns-/);
      const sport = doc.probe.attempts[0]!.sport;
      const packets = checkPcap(t, pcap).filter((p) => p.sport === sport && p.object === 'toolbox' && p.dir === 'Out');
      t.true(packets.length > 0, `${proto}: the request left toolbox`);
      t.true(packets.every((p) => (proto === 'udp' ? p.proto === 'udp' : p.proto === undefined)), `${proto}: ${JSON.stringify(packets.map((p) => [p.proto, p.flags]))}`);
      const ct = doc.conntrack.find((c) => c.object === 'worker-a');
      t.truthy(ct?.entries.find((e) => new RegExp(`\\b${proto}\\b`).test(e) && e.includes('dst=10.196.0.10') && e.includes(`sport=${sport}`)), `${proto}: ${JSON.stringify(doc.conntrack)}`);
    }
  } finally {
    down(t, labId);
  }
});
