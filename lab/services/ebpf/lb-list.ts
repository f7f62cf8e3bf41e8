// `lab lb list <scenario> [--node N]`: builds the scenario (no probes), reads each node's
// service maps back from the kernel with bpftool (the agent's `bpf` dump, taken after the
// build) and prints them like `cilium bpf lb list`, then tears the lab down.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { EXIT, InfraError, LabError } from '../../errors.ts';
import { agentError, closeLab, compileLab, openLab, runLab } from '../../lifecycle.ts';
import type { Scenario, Topology } from '../../model.ts';
import { parseBpfDump } from '../../evidence/bpftool.ts';
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
  const compiled = compileLab(topo, scenario);
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
  // The shared lifecycle (lab/lifecycle.ts): runner, lab folder and journal, the agent, teardown by
  // the journal. No probes: the maps are dumped after the build.
  const lab = await openLab({ ...compiled, probes: [] }, { topo, scenario, runner: opts.runner, mode: 'run' });
  const job = lab.job;
  try {
    const outcome = await runLab(lab, 'all', opts.timeoutMs);
    if (outcome.agentStatus !== 0) throw new InfraError(`building ${scenario.id}: ${agentError(job, outcome)}`);
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
    closeLab(lab);
  }
}
