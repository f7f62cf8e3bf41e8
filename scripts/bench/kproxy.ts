// Section 4: kube-proxy iptables mode at scale. The pure builder (lab/services/iptables,
// buildKubeProxyIptables) writes the iptables-restore payload of one node for N services (two
// endpoints each, one of them local); we count its rules and time one iptables-restore of it in a
// throwaway lab namespace: natively with the host's iptables-restore (nft backend on Debian) and
// iptables-legacy-restore, and inside UML with iptables-legacy-restore (the UML kernel has no
// nf_tables for IPv4).
import { execFileSync } from 'node:child_process';
import type { BuildContext } from '../../lab/context.ts';
import { compileScenario, type Compiled } from '../../lab/compile.ts';
import { newLabId } from '../../lab/names.ts';
import { PlanBuilder } from '../../lab/plan.ts';
import type { RunnerName } from '../../lab/runners/types.ts';
import { which } from '../../lab/runners/tools.ts';
import { buildKubeProxyIptables, type KubeProxyService } from '../../lab/services/iptables/index.ts';
import { parseTopology } from '../../lab/topology/load.ts';
import { generateCluster, serviceIp } from './generate.ts';
import { intToIp, ipToInt } from '../../lab/net.ts';
import { addCapture, runJob, runnerServes, TIMED } from './jobs.ts';
import { countRules, parseTimed } from './parse.ts';
import type { Log, Skip } from './scale.ts';
import { round } from './scale.ts';

export interface KproxyRow {
  services: number;
  rules: number;
  chains: number;
  payloadKiB: number;
  /** Time of the pure builder (host, Node). */
  generateMs: number;
  runner: RunnerName;
  kernel: string;
  tool: string;
  applyMs?: number;
  error?: string;
}

/** kube-proxy's view of N generated services: ClusterIP, one TCP port, two endpoints (n0 local, n1 remote). */
export function kproxyServices(n: number): KubeProxyService[] {
  const pod = (i: number) => intToIp(ipToInt('10.200.0.0') + 2 + i);
  return Array.from({ length: n }, (_, i) => ({
    namespace: 'default', name: `s${i}`, clusterIP: serviceIp(i), externalIPs: [], externalTrafficPolicy: 'Cluster' as const,
    ports: [{ protocol: 'TCP' as const, port: 80, targetPort: 8080 }],
    endpoints: [{ ip: pod(2 * (i % 20000)), nodeName: 'n0' }, { ip: pod(2 * (i % 20000) + 1), nodeName: 'n1' }],
  }));
}

/** Kernel modules the lab's iptables proxy loads in UML (taken from a compiled plan, not repeated here). */
function iptablesModules(): string[] {
  const topo = parseTopology(generateCluster({ kind: 'eniip', pods: 2, serviceProxy: 'iptables', services: 1, listen: [80] }), 'generated-modules.yaml');
  return compileScenario(topo, undefined, newLabId()).plan.modules;
}

/** A plan of one namespace per tool; each applies the payload once, timed by timed.sh. */
function applyPlan(payload: string, tools: string[]): { c: Compiled; names: string[] } {
  const b = new PlanBuilder(newLabId());
  const file = b.file('kube-proxy.rules', payload);
  const names: string[] = [];
  tools.forEach((_, i) => b.namespace(`kp${i}`, 'node'));
  b.module(...iptablesModules());
  b.feature('iptables');
  const plan = b.build();
  // Only the plan and the (empty) probe list are read when the job is written and run.
  const c: Compiled = { plan, probes: [], ctx: {} as BuildContext };
  tools.forEach((tool, i) => {
    const name = `apply-${i}`;
    names.push(name);
    addCapture(c, `kp${i}`, name, ['timeout', '600', 'bash', TIMED, tool, file]);
  });
  return { c, names };
}

export async function benchKproxy(o: { counts: number[]; runners: RunnerName[]; log: Log }): Promise<{ rows: KproxyRow[]; skipped: Skip[] }> {
  const rows: KproxyRow[] = [];
  const skipped: Skip[] = [];
  for (const n of o.counts) {
    const t0 = performance.now();
    const res = buildKubeProxyIptables({ nodeName: 'n0', nodeIPs: ['10.100.0.1'], clusterCIDR: '10.200.0.0/16', services: kproxyServices(n), jumps: 'append' });
    const generateMs = round(performance.now() - t0, 0);
    const { rules, chains } = countRules(res.payload);
    const base = { services: n, rules, chains, payloadKiB: round(Buffer.byteLength(res.payload) / 1024, 0), generateMs };
    for (const runner of o.runners) {
      const tools = runner === 'uml'
        ? ['iptables-legacy-restore']
        : ['iptables-restore', 'iptables-legacy-restore'].filter((t) => which(t));
      const { c, names } = applyPlan(res.payload, tools);
      const serves = await runnerServes(runner, c.plan.features);
      if (!serves.ok) {
        skipped.push({ what: `kube-proxy iptables on ${runner}`, reason: serves.reason ?? 'runner unavailable' });
        continue;
      }
      const r = await runJob(c, runner, names, 30 * 60_000);
      tools.forEach((tool, i) => {
        const cap = r.captures[names[i]!];
        const row: KproxyRow = { ...base, runner: r.outcome.runner, kernel: r.outcome.kernel, tool: toolLabel(tool) };
        if (r.outcome.agentStatus !== 0) row.error = `agent status ${r.outcome.agentStatus}: ${(r.buildError ?? r.outcome.log).trim().split('\n')[0]}`;
        else {
          try {
            const t = parseTimed(cap?.stdout ?? '');
            if (t.rc !== 0) row.error = `${tool} exited ${t.rc}: ${(cap?.stderr ?? '').trim().split('\n').slice(0, 2).join(' | ').slice(0, 200)}`;
            else row.applyMs = round(t.ms, 0);
          } catch (e) {
            row.error = (e as Error).message;
          }
        }
        rows.push(row);
        o.log(`  kube-proxy ${n} services (${rules} rules) ${row.runner} ${row.tool}: ${row.applyMs ?? '—'} ms${row.error ? ` (${row.error})` : ''}`);
      });
    }
  }
  return { rows, skipped };
}

function toolLabel(tool: string): string {
  if (tool !== 'iptables-restore') return tool;
  return /nf_tables/.test(iptablesVersion()) ? 'iptables-restore (nft)' : tool;
}

let version: string | undefined;
function iptablesVersion(): string {
  if (version !== undefined) return version;
  try {
    // iptables -V prints e.g. "iptables v1.8.9 (nf_tables)".
    version = execFileSync('iptables', ['-V'], { encoding: 'utf8' });
  } catch {
    version = '';
  }
  return version;
}
