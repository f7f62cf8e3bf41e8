// `lab explain ID`: the scenario's story — topology, and per probe the verdict (delivered at X,
// dropped at Y by Z) and every hop with what decided it and every address rewrite, all from the
// run's evidence (lab/explain/story.ts), plus each forwarding hop's route quoted from the running
// kernel (`ip route get`, `ip rule`). The lab is brought up, probed, questioned, and taken down.
import type { Compiled } from './compile.ts';
import type { Scenario, Topology } from './model.ts';
import { agentPhase, downLab, execCapture, upCompiled, type LabState } from './interactive.ts';
import { analyze, type Hop, type ProbeResult } from './checks/analyze.ts';
import { stories } from './explain/story.ts';
import { renderStory } from './explain/render.ts';
import { EXIT, LabError } from './errors.ts';
import type { RunnerName } from './runners/types.ts';
import { bold, red } from './report/terminal.ts';
import { cidrContains } from './net.ts';

export function describeTopology(topo: Topology): string[] {
  const c = topo.cluster;
  const out = [`datapath ${c.datapath.kind}, service proxy ${c.serviceProxy.kind}`];
  for (const n of c.nodes) {
    const pods = c.pods.filter((p) => p.node === n.name);
    out.push(`node ${n.name} ${n.ip}: ENIs ${n.enis.map((e) => `${e.name}${e.primary ? ' (primary)' : ''}${e.trunk ? ' (trunk)' : ''} in ${e.vswitch}`).join(', ')}${pods.length ? `; pods ${pods.map((p) => `${p.name} ${p.ip}${p.eni ? ` on ${p.eni}` : ''}`).join(', ')}` : ''}`);
  }
  for (const s of c.services) out.push(`service ${s.namespace}/${s.name}: ClusterIP ${s.clusterIP}${s.externalIPs.length ? `, ExternalIP ${s.externalIPs.join(', ')} (${s.externalTrafficPolicy})` : ''}, ports ${s.ports.map((p) => `${p.port}→${p.targetPort}`).join(', ')}, endpoints ${s.endpoints.join(', ') || 'none'}`);
  for (const s of c.slbs) out.push(`SLB ${s.name}: ${s.vip}:${s.port} → ${s.backends.map((b) => `${b.pod}:${b.port}`).join(', ')}`);
  for (const x of c.clients) out.push(`external client ${x.name} ${x.ip}`);
  return out;
}

async function q(s: LabState, object: string, argv: string[]): Promise<string> {
  const r = await execCapture(s, object, argv);
  return r.out.trim();
}

/**
 * The first rule (in priority order) whose selector matches this lookup and whose table is the one
 * the kernel's answer came from: which rule decided. Selectors understood: from, to, iif.
 */
export function ruleFor(rules: string, table: string, src: string, dst: string, iif: string | undefined): string | undefined {
  const inPrefix = (sel: string, ip: string) => sel === 'all' || (sel.includes('/') ? cidrContains(sel, ip) : sel === ip);
  for (const line of rules.split('\n')) {
    const m = /^(\d+):\s+(.*)$/.exec(line.trim());
    if (!m) continue;
    const body = m[2]!;
    const from = /\bfrom (\S+)/.exec(body)?.[1] ?? 'all';
    const to = /\bto (\S+)/.exec(body)?.[1] ?? 'all';
    const ruleIif = /\biif (\S+)/.exec(body)?.[1];
    const t = /\blookup (\S+)/.exec(body)?.[1];
    if (!t || t === 'local') continue;
    if (!inPrefix(from, src) || !inPrefix(to, dst) || (ruleIif && ruleIif !== iif)) continue;
    if (t === table) return line.trim();
  }
  return undefined;
}

/**
 * The route that decided one forwarding step inside a namespace, asked of the running kernel
 * (`ip route get` and `ip rule`). Rewrites and drops come from the run's evidence (the story).
 */
async function routeDecision(s: LabState, compiled: Compiled, inHop: Hop, outHop: Hop): Promise<string[]> {
  const lines: string[] = [];
  const ns = inHop.object;
  const hasIpvs = compiled.plan.interfaces.some((i) => i.object === ns && i.name === 'kube-ipvs0');
  // IPVS re-routes a translated packet with an *output* lookup (ip_route_me_harder): no input
  // interface, so a rule carrying `iif` cannot match it. A plain forward is an input lookup.
  const outputLookup = inHop.dst !== outHop.dst && hasIpvs;
  const argv = outputLookup ? ['ip', 'route', 'get', outHop.dst] : ['ip', 'route', 'get', outHop.dst, 'from', inHop.src, 'iif', inHop.ifname];
  const route = await q(s, ns, argv);
  const table = /\btable (\S+)/.exec(route)?.[1] ?? 'main';
  const rules = await q(s, ns, ['ip', 'rule', 'show']);
  const rule = ruleFor(rules, table, inHop.src, outHop.dst, outputLookup ? undefined : inHop.ifname);
  lines.push(`route (${outputLookup ? 'output lookup after IPVS' : 'input lookup'}): \`${argv.join(' ')}\` → ${route.split('\n')[0]!.trim()}`);
  if (rule) lines.push(`  decided by rule \`${rule}\``);
  if (outputLookup) {
    const skipped = rules.split('\n').filter((l) => l.includes(`from ${inHop.src}`) && /\biif /.test(l));
    for (const l of skipped) lines.push(`  not matched (output lookups have no iif): \`${l.trim()}\``);
  }
  const viaDev = / dev (\S+)/.exec(route)?.[1];
  if (viaDev && viaDev !== outHop.ifname) lines.push(red(`  note: the kernel's answer today names ${viaDev}, the packet was captured leaving by ${outHop.ifname}`));
  return lines;
}

/** Live additions per request hop: the sender's route, and each forwarding hop's route and rule. */
async function liveDecisions(s: LabState, compiled: Compiled, hops: Hop[]): Promise<string[][]> {
  const out: string[][] = [];
  for (let i = 0; i < hops.length; i++) {
    const h = hops[i]!;
    const prev = hops[i - 1];
    const wire = prev && compiled.plan.edges.some((e) => e.from.object === prev.object && e.from.name === prev.ifname && e.from.dir === prev.dir && e.to.object === h.object && e.to.name === h.ifname && e.to.dir === h.dir);
    if (i === 0 && h.dir === 'Out') {
      const route = await q(s, h.object, ['ip', 'route', 'get', h.dst]);
      out.push([`${h.object} routes it: \`ip route get ${h.dst}\` → ${route.split('\n')[0]!.trim()}`]);
    } else if (prev && prev.object === h.object && prev.dir === 'In' && h.dir === 'Out' && !wire) {
      out.push(await routeDecision(s, compiled, prev, h));
    } else out.push([]);
  }
  return out;
}

/** `lab explain`: bring the lab up, probe, build the stories from the evidence, ask the live kernel for the routes, tear down. */
export async function explain(topo: Topology, scenario: Scenario, runner: RunnerName | 'auto'): Promise<string> {
  const out: string[] = [bold(`${scenario.id}: ${scenario.title}`)];
  if (scenario.story) out.push('', scenario.story.trim());
  out.push('', bold('Topology'), ...describeTopology(topo).map((l) => `  ${l}`));
  const { state, compiled } = await upCompiled(topo, scenario, runner);
  try {
    const rc = await agentPhase(state, 'probe');
    if (rc !== 0) throw new LabError(`the probes could not run (agent status ${rc})`, EXIT.infra);
    const results: ProbeResult[] = analyze(topo, compiled, state.jobDir);
    const told = stories(topo, compiled, state.jobDir, results);
    for (const [k, r] of results.entries()) {
      const st = told[k]!;
      const expected = scenario.probes.find((p) => p.name === r.name)?.expect.path;
      const live = await liveDecisions(state, compiled, r.path);
      out.push('', ...renderStory(st, expected, (i) => live[i] ?? []));
      out.push(`  expectations: ${r.checks.filter((c) => c.passed).length}/${r.checks.length} hold${r.checks.some((c) => !c.passed) ? ` — ${red('failing: ' + r.checks.filter((c) => !c.passed).map((c) => c.name).join('; '))}` : ''}`);
    }
  } finally {
    await downLab(state);
  }
  return out.join('\n') + '\n';
}
