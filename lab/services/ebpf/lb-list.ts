// `lab lb list <scenario> [--node N]`: builds the scenario (no probes), reads each node's
// service maps back from the kernel with bpftool (the agent's `bpf` dump, taken after the
// build) and prints them like `cilium bpf lb list`, then tears the lab down.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { compileScenario } from '../../compile.ts';
import { EXIT, InfraError, LabError } from '../../errors.ts';
import type { Scenario, Topology } from '../../model.ts';
import { newLabId } from '../../names.ts';
import { parseBpfDump } from '../../evidence/bpftool.ts';
import { selectRunner } from '../../runners/index.ts';
import { removeJob, writeJob } from '../../runners/job.ts';
import type { RunnerName } from '../../runners/types.ts';
import { dumpToTable, formatLbList, type LbListMode } from './maps.ts';

export interface LbListResult {
  node: string;
  /** formatLbList's output for the node's maps. */
  text: string;
  /** Inconsistencies dumpToTable found (a missing slot, backend or reverse-NAT entry). */
  problems: string[];
}

export async function lbList(topo: Topology, scenario: Scenario, opts: { runner: RunnerName | 'auto'; node?: string; mode?: LbListMode; timeoutMs?: number }): Promise<LbListResult[]> {
  const compiled = compileScenario(topo, scenario, newLabId());
  if (compiled.ctx.cluster.serviceProxy.kind !== 'ebpf') {
    throw new LabError(`${scenario.id} does not use the eBPF service load balancer (serviceProxy.kind is ${compiled.ctx.cluster.serviceProxy.kind})`, EXIT.usage);
  }
  const withPods = compiled.ctx.cluster.nodes.filter((n) => compiled.ctx.cluster.pods.some((p) => p.node === n.name)).map((n) => n.name);
  if (opts.node && !withPods.includes(opts.node)) {
    throw new LabError(`no eBPF service table on "${opts.node}" (nodes with pods: ${withPods.join(', ')})`, EXIT.usage);
  }
  const nodes = opts.node ? [opts.node] : withPods;
  const { plan } = compiled;
  for (const n of nodes) if (!plan.dumps.some((d) => d.kind === 'bpf' && d.object === n)) plan.dumps.push({ kind: 'bpf', object: n });
  const runner = await selectRunner(opts.runner, plan.features);
  const job = writeJob({ ...compiled, probes: [] });
  try {
    const outcome = await runner.run(job, 'all', { timeoutMs: opts.timeoutMs });
    if (outcome.agentStatus !== 0) {
      let detail = outcome.log.trim();
      try { detail = `${readFileSync(path.join(job.dir, 'out', 'build-error'), 'utf8').trim()}\n${detail}`.trim(); } catch { /* no build error */ }
      throw new InfraError(`building ${scenario.id} failed on the ${outcome.runner} runner (status ${outcome.agentStatus})${detail ? `:\n${detail.split('\n').slice(0, 20).join('\n')}` : ''}`);
    }
    return nodes.map((node) => {
      const ns = plan.namespaces.find((x) => x.object === node)!.ns;
      const f = path.join(job.dir, 'out', 'dump', `final.bpf.${ns}.txt`);
      let text: string;
      try {
        text = readFileSync(f, 'utf8');
      } catch {
        throw new InfraError(`no dump of ${node}'s eBPF maps came back (${f})`);
      }
      let dump;
      try {
        dump = parseBpfDump(text);
      } catch (e) {
        throw new InfraError(`${node}'s eBPF maps could not be read: ${(e as Error).message}\n${text.split('\n').slice(0, 6).join('\n')}`);
      }
      return { node, text: formatLbList(dump, { mode: opts.mode }), problems: dumpToTable(dump).problems };
    });
  } finally {
    removeJob(job);
  }
}
