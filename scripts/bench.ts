// npm run bench [-- --quick] [--sizes 10,100,1000] [--runner auto|native|uml] [--json FILE]
// Prints build and teardown time for generated ENIIP clusters, and each eniip scenario's wall
// time split into boot, build, probe and teardown. Figures only: no assertions on time.
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { compileScenario } from '../lab/compile.ts';
import { loadCatalog } from '../lab/catalog.ts';
import { newLabId } from '../lab/names.ts';
import { runScenario } from '../lab/run.ts';
import { selectRunner } from '../lab/runners/index.ts';
import { removeJob, writeJob } from '../lab/runners/job.ts';
import type { RunnerName } from '../lab/runners/types.ts';
import { parseTopology } from '../lab/topology/load.ts';
import { intToIp, ipToInt } from '../lab/net.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    sizes: { type: 'string' },
    runner: { type: 'string', default: 'auto' },
    json: { type: 'string' },
    services: { type: 'string', default: 'ipvs' },
  },
});
const sizes = (values.sizes ?? (values.quick ? '10,100' : '10,100,1000')).split(',').map(Number);

/** A generated ENIIP cluster: `pods` pods spread over nodes of at most 50 pods each. */
export function generatedEniip(pods: number, serviceProxy: string): string {
  const nodes = Math.max(2, Math.ceil(pods / 50));
  const base = ipToInt('10.100.0.0');
  const lines = [
    'apiVersion: datapath-lab/v1', 'family: bench', `title: generated ENIIP cluster of ${pods} pods`,
    'cluster:', '  datapath: { kind: eniip }', `  serviceProxy: { kind: ${serviceProxy} }`,
    '  vpc: { vswitches: [{ name: vsw, cidr: 10.100.0.0/16 }] }', '  nodes:',
  ];
  for (let n = 0; n < nodes; n++) lines.push(`    - { name: n${n}, enis: [{ name: eth0, vswitch: vsw, ip: ${intToIp(base + 1 + n)} }, { name: eth1, vswitch: vsw }] }`);
  lines.push('  pods:');
  for (let p = 0; p < pods; p++) lines.push(`    - { name: p${p}, node: n${p % nodes}, eni: eth1, ip: ${intToIp(base + 256 + p)}, labels: { app: a${p % 10} }, listen: [80] }`);
  if (serviceProxy !== 'none') {
    lines.push('  services:');
    for (let s = 0; s < 10; s++) lines.push(`    - { name: s${s}, clusterIP: ${intToIp(ipToInt('192.168.0.0') + 1 + s)}, selector: { app: a${s} }, ports: [{ port: 80 }] }`);
  }
  lines.push('scenarios:', '  - { id: bench, title: build only, probes: [{ from: p0, to: p1, port: 80 }] }');
  return lines.join('\n') + '\n';
}

interface Row { what: string; runner: string; pods: number; nodes: number; namespaces: number; batches: number; boot: number; build: number; teardown: number; total: number; perPodMs: number }
const rows: Row[] = [];
const scenarioRows: { id: string; runner: string; passed: boolean; boot: number; build: number; probe: number; teardown: number; total: number }[] = [];

for (const n of sizes) {
  const topo = parseTopology(generatedEniip(n, values.services!), `generated-${n}.yaml`);
  // Build and tear down only: no probe list.
  const compiled = compileScenario(topo, undefined, newLabId());
  const runner = await selectRunner(values.runner as RunnerName | 'auto', compiled.plan.features);
  const job = writeJob(compiled);
  try {
    const o = await runner.run(job, 'all', { timeoutMs: 30 * 60_000 });
    if (o.agentStatus !== 0) throw new Error(`build of ${n} pods failed on ${o.runner}: ${o.log}`);
    rows.push({
      what: `eniip+${values.services}`, runner: o.runner, pods: n, nodes: topo.cluster.nodes.length, namespaces: compiled.plan.namespaces.length,
      batches: compiled.plan.steps.length, boot: o.timings.boot, build: o.timings.build, teardown: o.timings.teardown, total: o.timings.total,
      perPodMs: Math.round((o.timings.build / n) * 10) / 10,
    });
    process.stderr.write(`built ${n} pods on ${o.runner}: build ${o.timings.build} ms, teardown ${o.timings.teardown} ms\n`);
  } finally {
    removeJob(job);
  }
}

if (!values.quick || true) {
  for (const topo of loadCatalog().filter((t) => t.family === 'eniip')) {
    for (const s of topo.scenarios) {
      const r = await runScenario(topo, s, { runner: values.runner as RunnerName | 'auto' });
      scenarioRows.push({ id: s.id, runner: r.runner, passed: r.passed, ...r.timings });
      process.stderr.write(`${s.id}: ${r.passed ? 'passed' : 'FAILED'} in ${r.timings.total} ms\n`);
    }
  }
}

const pad = (s: string | number, w: number) => String(s).padStart(w);
console.log(`\nmachine: ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, host kernel ${os.release()}, ${new Date().toISOString()}`);
console.log('\nBuild and teardown of generated ENIIP clusters (ms)');
console.log(`${'cluster'.padEnd(14)} ${'runner'.padEnd(7)} ${pad('pods', 6)} ${pad('nodes', 6)} ${pad('netns', 6)} ${pad('batches', 8)} ${pad('boot', 7)} ${pad('build', 8)} ${pad('ms/pod', 7)} ${pad('teardown', 9)} ${pad('total', 8)}`);
for (const r of rows) console.log(`${r.what.padEnd(14)} ${r.runner.padEnd(7)} ${pad(r.pods, 6)} ${pad(r.nodes, 6)} ${pad(r.namespaces, 6)} ${pad(r.batches, 8)} ${pad(r.boot, 7)} ${pad(r.build, 8)} ${pad(r.perPodMs, 7)} ${pad(r.teardown, 9)} ${pad(r.total, 8)}`);
console.log('\neniip scenarios: wall time split (ms)');
console.log(`${'scenario'.padEnd(16)} ${'runner'.padEnd(7)} ${'result'.padEnd(7)} ${pad('boot', 7)} ${pad('build', 7)} ${pad('probe', 7)} ${pad('teardown', 9)} ${pad('total', 7)}`);
for (const r of scenarioRows) console.log(`${r.id.padEnd(16)} ${r.runner.padEnd(7)} ${(r.passed ? 'pass' : 'FAIL').padEnd(7)} ${pad(r.boot, 7)} ${pad(r.build, 7)} ${pad(r.probe, 7)} ${pad(r.teardown, 9)} ${pad(r.total, 7)}`);
if (values.json) writeFileSync(values.json, JSON.stringify({ machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, kernel: os.release() }, builds: rows, scenarios: scenarioRows }, null, 2));
