// Topology + scenario → plan + probe list. The order is fixed: fabric namespaces, the
// datapath (nodes, ENIs, pods), the rest of the fabric (SLBs, clients), the service proxy.
import type { BuildContext } from './context.ts';
import { effectiveCluster } from './context.ts';
import { datapathFor } from './families/registry.ts';
import { modulesFor } from './features.ts';
import { buildSecurityGroups } from './fabric/security-groups.ts';
import { declareFabric, finishFabric } from './fabric/vpc.ts';
import type { Compiled, ProbeSpec } from './contract.ts';
import type { Probe, Scenario, Topology } from './model.ts';
import { PlanBuilder } from './plan.ts';
import { serviceProxyFor } from './services/registry.ts';
import { resolveAddress } from './topology/load.ts';
import { everyProbeDumps, finalDumps, probeDumps } from './checks/registry.ts';
import { explainDumps } from './explain/dumps.ts';

export type { Compiled, ProbeSpec } from './contract.ts';

export function compileScenario(topo: Topology, scenario: Scenario | undefined, labId: string): Compiled {
  const cluster = effectiveCluster(topo, scenario);
  const b = new PlanBuilder(labId);
  const ctx: BuildContext = { topo, scenario, cluster, b, enis: [] };
  declareFabric(ctx);
  datapathFor(cluster.datapath.kind).build(ctx);
  finishFabric(ctx);
  buildSecurityGroups(ctx); // after every ENI is known: group references expand to their addresses
  serviceProxyFor(cluster.serviceProxy.kind).build(ctx);
  b.module('nf_conntrack_netlink'); // the conntrack tool reads the table over netlink
  // SCTP anywhere (a Service port, a probe) needs the protocol in the kernel, as UDP and TCP always are.
  if (cluster.services.some((s) => s.ports.some((p) => p.protocol === 'SCTP')) || scenario?.probes.some((p) => p.protocol === 'sctp')) b.feature('sctp');
  for (const d of finalDumps(scenario?.probes ?? [])) b.dump(d.kind, d.object); // what the checks read after all probes
  const plan = b.build();
  plan.modules = modulesFor(plan.features, plan.modules); // the UML guest loads them
  const probes = (scenario?.probes ?? []).map((p, i) => compileProbe(topo, p, i + 1));
  // Cumulative counters are dumped after every probe: each probe's baseline is the previous dump.
  const baselines = everyProbeDumps(probes.map((p) => p.probe));
  for (const p of probes) for (const d of baselines) if (!p.dumps.some((x) => x.kind === d.kind && x.object === d.object)) p.dumps.push(d);
  explainDumps(plan, probes, cluster); // counters and tables that name each hop's decider and each drop's cause
  return { plan, probes, ctx };
}

function compileProbe(topo: Topology, p: Probe, index: number): ProbeSpec {
  const dst = resolveAddress(p.to, topo);
  const port = p.port ?? dst.port;
  if (!port) throw new Error(`probe "${p.name}": no port for ${p.to} (give "port")`);
  const bulk = (p.connections ?? 0) > 1;
  return {
    id: `p${index}`,
    index,
    probe: p,
    from: p.from,
    dstIp: dst.ip,
    dstPort: port,
    protocol: p.protocol,
    want: p.backend ? `pod=${p.backend} ` : '-',
    mode: bulk ? 'bulk' : 'single',
    attempts: bulk ? p.connections! : p.expect.reachable === false ? 1 : p.attempts,
    timeout: p.timeoutSeconds,
    dumps: probeDumps(p), // what this probe's expectations read, as the check registry says
  };
}
