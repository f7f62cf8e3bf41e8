// npm run bench [-- --quick] [--runner auto|native|uml] [--json FILE] [--only S,S…] [--sizes 10,100,…]
//                  [--services none|ipvs|iptables|ebpf] [--seconds N] [--reps N]
// Figures only (tests never assert time). Prints short tables and writes everything to a JSON file
// (default bench-results.json). Sections (scripts/bench/*.ts):
//   scale      build + teardown of generated clusters, 10 … 5000 pods over 2 … 50 nodes, per datapath
//              kind of the catalogue's families, native (where the kernel serves) and uml
//   mininet    Mininet (LinuxBridge) building as many hosts, as a ratio to the lab's native eniip build
//   scenarios  every catalogue scenario's wall time split into boot, build, probe, teardown
//   perf       TCP request/response latency (sockperf) and throughput (iperf3) pod → pod, same and cross node
//   services   new connections/s and latency through a ClusterIP with 10 / 100 / 1000 services (iptables, IPVS, eBPF)
//   kproxy     kube-proxy iptables payload for 1000 / 10000 services: rules, iptables-restore time
//   goals      the UML speed goals as ratios to a bare UML boot of the same run: eniip-5 end to end
//              (goal ≤ 3 boots) and the catalogue with `lab test` (goal ≤ 60 boots), each scenario's
//              phases (--quick: eniip-5 only, no catalogue). `--only goals` runs just this.
// Tool runs (sockperf, iperf3, connection loops) are repeated --reps times, interleaved, and the
// medians reported (default 3; 1 with --quick).
// --quick: sizes 10 and 100, one scenario per family, 1-second tool runs; pod → pod figures and
//          10 / 1000 services on the first runner that serves each datapath / proxy (eniip on
//          both, for the IPVLAN comparison) (under 5 minutes).
// --runner: auto = native where the kernel serves and uml (both); native or uml = that one only.
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { loadCatalog } from '../lab/catalog.ts';
import type { RunnerName } from '../lab/runners/types.ts';
import { isGeneratedKind, type DatapathKind, type ProxyKind } from './bench/generate.ts';
import { benchGoals, type GoalsResult } from './bench/goals.ts';
import { benchKproxy, type KproxyRow } from './bench/kproxy.ts';
import { benchDatapaths, benchServices, claimVerdicts, type PerfRow, type ServiceRow } from './bench/perf.ts';
import { benchMininet, benchScale, round, type MininetRow, type ScaleRow, type ScaleSummary, type Skip } from './bench/scale.ts';
import { benchScenarios, type ScenarioRow } from './bench/scenarios.ts';
import { fmt, median, table } from './bench/stats.ts';

const SECTIONS = ['goals', 'scale', 'mininet', 'scenarios', 'perf', 'services', 'kproxy'] as const;
type Section = (typeof SECTIONS)[number];

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    sizes: { type: 'string' },
    runner: { type: 'string', default: 'auto' },
    json: { type: 'string', default: 'bench-results.json' },
    only: { type: 'string' },
    services: { type: 'string', default: 'none' },
    seconds: { type: 'string' },
    reps: { type: 'string' },
  },
});

function usage(msg: string): never {
  process.stderr.write(`bench: ${msg}\n`);
  process.exit(2);
}

const quick = values.quick!;
if (!['auto', 'native', 'uml'].includes(values.runner!)) usage(`--runner wants auto, native or uml (got "${values.runner}")`);
const runners: RunnerName[] = values.runner === 'auto' ? ['native', 'uml'] : [values.runner as RunnerName];
const sizes = (values.sizes ?? (quick ? '10,100' : '10,100,1000,5000')).split(',').map(Number);
if (sizes.some((n) => !Number.isInteger(n) || n < 1)) usage(`--sizes wants positive integers (got "${values.sizes}")`);
const only = new Set<Section>(values.only ? (values.only.split(',') as Section[]) : SECTIONS);
for (const s of only) if (!SECTIONS.includes(s)) usage(`--only: unknown section "${s}" (sections: ${SECTIONS.join(', ')})`);
if (!['none', 'ipvs', 'iptables', 'ebpf'].includes(values.services!)) usage(`--services wants none, ipvs, iptables or ebpf (got "${values.services}")`);
const proxy = values.services as ProxyKind;
const seconds = Number(values.seconds ?? (quick ? 1 : 3));
if (!(seconds >= 1 && seconds <= 30)) usage('--seconds wants 1 … 30');
const reps = Number(values.reps ?? (quick ? 1 : 3));
if (!(Number.isInteger(reps) && reps >= 1 && reps <= 20)) usage('--reps wants 1 … 20');

const log = (s: string) => process.stderr.write(`${s}\n`);
const started = Date.now();
const catalog = loadCatalog();
// Datapath kinds of the catalogue's families (eniip always), e.g. kproxy → calico.
const kinds = [...new Set<DatapathKind>(['eniip', ...catalog.map((t) => t.cluster.datapath.kind).filter(isGeneratedKind)])];

const results = {
  machine: {
    cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    hostKernel: os.release(), node: process.version, date: new Date().toISOString(), quick, runners,
  },
  notes: [
    'uml figures are measured inside Debian\'s User-Mode Linux 6.1 guest: every process and packet goes through ptrace-driven UML, so they are UML (interpreter-like) numbers, not a kernel\'s.',
    'build scaling: datapath only (service proxy as given by --services, default none), no pod servers; per-pod cost = build ms ÷ pods.',
  ],
  scale: { rows: [] as ScaleRow[], summaries: [] as ScaleSummary[] },
  mininet: [] as MininetRow[],
  scenarios: [] as ScenarioRow[],
  perf: [] as PerfRow[],
  claim: [] as ReturnType<typeof claimVerdicts>,
  services: [] as ServiceRow[],
  kproxy: [] as KproxyRow[],
  goals: undefined as GoalsResult | undefined,
  notMeasured: [] as Skip[],
  sectionMs: {} as Partial<Record<Section, number>>,
  wallMs: 0,
};
// After each section: its wall time, and the results so far written out (a long full run that is
// stopped still leaves its figures).
let sectionStart = Date.now();
const done = (s: Section) => {
  if (only.has(s)) results.sectionMs[s] = Date.now() - sectionStart;
  sectionStart = Date.now();
  writeFileSync(values.json!, JSON.stringify({ ...results, partial: true, wallMs: Date.now() - started }, null, 2) + '\n');
};

// First, while nothing else of this run has warmed or loaded the machine.
if (only.has('goals')) {
  log(`goals: bare UML boot and eniip-5 (×${Math.max(reps, 3)}, interleaved)${quick ? '' : ', then the catalogue with lab test'}`);
  results.goals = await benchGoals({ topos: catalog, reps: Math.max(reps, 3), catalogue: !quick, log });
}
done('goals');
if (only.has('scale')) {
  log(`scale: ${kinds.join(', ')} × ${runners.join(', ')} × ${sizes.join(', ')} pods`);
  const r = await benchScale({ kinds, runners, sizes, proxy, log });
  results.scale = { rows: r.rows, summaries: r.summaries };
  results.notMeasured.push(...r.skipped);
}
done('scale');
if (only.has('mininet')) {
  log(`mininet: ${sizes.join(', ')} hosts`);
  const r = await benchMininet(sizes, results.scale.rows, log);
  results.mininet = r.rows;
  results.notMeasured.push(...r.skipped);
}
done('mininet');
if (only.has('scenarios')) {
  log(`scenarios (${quick ? 'first of each family' : 'all'}), runner ${values.runner}`);
  results.scenarios = await benchScenarios({ topos: catalog, quick, runner: values.runner as RunnerName | 'auto', log });
}
done('scenarios');
if (only.has('perf')) {
  log(`perf: ${kinds.join(', ')}, ${seconds} s per tool run`);
  const r = await benchDatapaths({ kinds: [...new Set<DatapathKind>([...kinds, 'ipvlan'])], runners, firstServing: quick, everywhere: ['eniip'], seconds, reps, log });
  results.perf = r.rows;
  results.claim = claimVerdicts(r.rows);
  results.notMeasured.push(...r.skipped);
}
done('perf');
if (only.has('services')) {
  const counts = quick ? [10, 1000] : [10, 100, 1000];
  log(`services: iptables, ipvs, ebpf × ${counts.join(', ')} services`);
  const r = await benchServices({ proxies: ['iptables', 'ipvs', 'ebpf'], counts, runners, firstServing: quick, lean: quick, seconds, reps, connections: (x) => (x === 'uml' ? (quick ? 50 : 100) : quick ? 500 : 2000), log });
  results.services = r.rows;
  results.notMeasured.push(...r.skipped);
}
done('services');
if (only.has('kproxy')) {
  log('kproxy: 1000, 10000 services');
  const r = await benchKproxy({ counts: [1000, 10000], runners, log });
  results.kproxy = r.rows;
  results.notMeasured.push(...r.skipped);
}
done('kproxy');
results.wallMs = Date.now() - started;

// ---- tables ---------------------------------------------------------------------------------
const out: string[] = [];
const m = results.machine;
const umlKernel = [...results.perf, ...results.services, ...results.kproxy].find((r) => r.runner === 'uml')?.kernel;
out.push(`machine: ${m.cpu} × ${m.cores} cores, ${m.memoryGiB} GiB, host kernel ${m.hostKernel}${umlKernel ? `, UML ${umlKernel}` : ''}; ${m.date}; ${quick ? 'quick' : 'full'} run, ${round(results.wallMs / 1000, 0)} s`
  + ` (${Object.entries(results.sectionMs).map(([k, v]) => `${k} ${round(v / 1000, 0)} s`).join(', ')})`);
out.push('(uml rows are User-Mode Linux numbers: every process and packet is ptrace-driven — compare them with each other, not with native)');

const g = results.goals;
if (g) {
  const boot = median(g.bareBootMs);
  out.push('', `0. Speed goals under UML, as ratios to a bare UML boot of this run (median of ${g.bareBootMs.length}: ${fmt(boot)} ms)`);
  out.push(table(['what', 'ms', 'boots', 'goal', 'met'], [
    ['bare UML boot (init: mount /proc, exit code, poweroff)', fmt(boot), '1.00', '', ''],
    [`eniip-5 end to end (median of ${g.eniip5Ms.length})`, fmt(median(g.eniip5Ms)), fmt(g.ratios.eniip5, 2), `≤ ${g.goals.eniip5}`, g.ratios.eniip5 <= g.goals.eniip5 ? 'yes' : 'no'],
    ...(g.catalogueMs !== undefined ? [[`catalogue, lab test (${g.scenarios.length} scenarios, ${g.catalogueWorkers} workers)`, fmt(g.catalogueMs), fmt(g.ratios.catalogue, 1), `≤ ${g.goals.catalogue}`, g.ratios.catalogue! <= g.goals.catalogue ? 'yes' : 'no']] : []),
  ]));
  const phases = g.scenarios.length ? g.scenarios : g.eniip5Phases ? [g.eniip5Phases] : [];
  out.push('', `Phases (ms${g.scenarios.length ? '; in lab test a worker\'s first scenario carries its guest\'s boot' : ''})`);
  out.push(table(['scenario', 'family', 'result', 'boot', 'build', 'probe', 'teardown', 'total'],
    phases.map((r) => [r.id, r.family, r.passed ? 'pass' : 'FAIL', r.bootMs, r.buildMs, r.probeMs, r.teardownMs, r.totalMs])));
  if (g.failed.length) out.push(`Failed: ${g.failed.join('; ')}`);
}
if (results.scale.rows.length) {
  out.push('', `1. Build and teardown of generated clusters (ms; service proxy: ${proxy}; no pod servers)`);
  out.push(table(['datapath', 'runner', 'pods', 'nodes', 'netns', 'boot', 'build', 'ms/pod', 'teardown', 'ms/pod'],
    results.scale.rows.map((r) => [r.kind, r.runner, r.pods, r.nodes, r.namespaces, r.bootMs, r.buildMs, fmt(r.buildPerPodMs, 2), r.teardownMs, fmt(r.teardownPerPodMs, 2)])));
  if (results.scale.summaries.length) {
    out.push('', 'Growth: per-pod build cost between consecutive sizes (1.00 = constant), exponent b of cost ∝ pods^b between the two largest sizes (1 = linear; needs two sizes ≥ 100)');
    out.push(table(['datapath', 'runner', 'sizes', 'build ratios', 'exp', 'build', 'teardown ratios', 'exp', 'teardown'],
      results.scale.summaries.map((s) => [s.kind, s.runner, s.sizes.join('/'), s.build.ratios.map((x) => fmt(x, 2)).join(' '), fmt(s.build.exponent, 2), s.build.verdict,
        s.teardown.ratios.map((x) => fmt(x, 2)).join(' '), fmt(s.teardown.exponent, 2), s.teardown.verdict])));
  }
}
if (results.mininet.length) {
  out.push('', 'Mininet 2.3 (LinuxBridge, no controller; hosts spread over as many bridges as the lab has nodes) vs the lab\'s native eniip build');
  out.push(table(['hosts', 'switches', 'mn build', 'lab build', 'mn÷lab', 'mn stop', 'lab teardown', 'mn÷lab', 'ping'],
    results.mininet.map((r) => {
      const lab = results.scale.rows.find((x) => x.kind === 'eniip' && x.runner === 'native' && x.pods === r.hosts);
      return [r.hosts, r.switches, r.buildMs, lab?.buildMs ?? '—', fmt(r.buildRatio, 2), r.stopMs, lab?.teardownMs ?? '—', fmt(r.stopRatio, 2), r.ping ? 'ok' : 'FAIL'];
    })));
}
if (results.scenarios.length) {
  out.push('', `2. Scenario wall time (ms)${quick ? ', first scenario of each family' : ''}`);
  out.push(table(['scenario', 'family', 'runner', 'result', 'boot', 'build', 'probe', 'teardown', 'total'],
    results.scenarios.map((r) => [r.id, r.family, r.runner, r.passed ? 'pass' : 'FAIL', r.bootMs, r.buildMs, r.probeMs, r.teardownMs, r.totalMs])));
}
if (results.perf.length) {
  out.push('', `3. Pod → pod TCP: request/response RTT (sockperf ping-pong, 64 B, ${seconds} s) and bulk throughput (iperf3, ${seconds} s); medians of ${reps} run(s)`);
  out.push('(client and server pinned to CPU 0; load = 1-minute load average when the job started: other work on the machine inflates the figures)');
  out.push(table(['datapath', 'runner', 'path', 'rtt p50 µs', '(p50 range)', 'avg µs', 'p99 µs', 'Gbit/s', 'retrans', 'load'],
    results.perf.map((r) => [r.kind, r.runner, r.path, fmt(r.rttP50Us, 1), r.rttP50Range ? `${fmt(r.rttP50Range[0], 1)}–${fmt(r.rttP50Range[1], 1)}` : '—', fmt(r.rttAvgUs, 1), fmt(r.rttP99Us, 1), fmt(r.gbps, 2), r.retransmits ?? '—', fmt(r.load, 2)])));
  if (results.claim.length) {
    out.push('', 'Claim "IPVLAN+eBPF beats ENIIP (skips the host stack)": ipvlan ÷ eniip in this run (latency < 1 and throughput > 1 = agrees)');
    out.push(table(['runner', 'kernel', 'path', 'rtt ratio', 'throughput ratio', 'agrees'],
      results.claim.map((c) => [c.runner, c.kernel, c.path, fmt(c.latencyRatio, 2), fmt(c.throughputRatio, 2), c.agrees === undefined ? '—' : c.agrees ? 'yes' : 'no'])));
  } else {
    out.push('', 'Claim "IPVLAN+eBPF beats ENIIP": not compared — no runner measured both datapaths in this run (see "not measured").');
  }
  if (!results.perf.some((r) => r.kind === 'ipvlan' && r.runner === 'native')) {
    out.push(`The host kernel (${m.hostKernel}) has no ipvlan: this kernel cannot answer the claim; only UML ratios are shown.`);
  }
}
if (results.services.length) {
  out.push('', `Service access: client pod → the last service's ClusterIP (backend on the same node) vs the backend's pod IP, in the same build; new connections/s (connect, one-line answer, close) and RTT p50 µs; medians of ${reps} run(s)`);
  out.push(table(['proxy', 'datapath', 'runner', 'services', 'VIP conn/s', 'direct conn/s', 'VIP÷direct', 'VIP rtt p50', 'direct rtt p50', 'load'],
    results.services.map((r) => [r.proxy, r.kind, r.runner, r.services, r.vipConnPerSec ?? '—', r.directConnPerSec ?? '—',
      r.vipConnPerSec && r.directConnPerSec ? fmt(r.vipConnPerSec / r.directConnPerSec, 2) : '—', fmt(r.vipRttP50Us, 1), fmt(r.directRttP50Us, 1), fmt(r.load, 2)])));
}
if (results.kproxy.length) {
  out.push('', '4. kube-proxy iptables mode (pure builder, 2 endpoints per service): one iptables-restore in an empty lab namespace');
  out.push(table(['services', 'rules', 'chains', 'KiB', 'generate ms', 'runner', 'tool', 'apply ms'],
    results.kproxy.map((r) => [r.services, r.rules, r.chains, r.payloadKiB, r.generateMs, r.runner, r.tool, r.applyMs ?? `— (${r.error ?? '?'})`])));
}
if (results.notMeasured.length) {
  out.push('', 'Not measured:');
  for (const s of results.notMeasured) out.push(`  - ${s.what}: ${s.reason}`);
}
const text = out.join('\n');
console.log(text);
writeFileSync(values.json!, JSON.stringify({ ...results, table: text }, null, 2) + '\n');
log(`\nwrote ${values.json}`);
