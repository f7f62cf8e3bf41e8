// expect.iptables: the chains a probe's packets went through in a node's table, read from the
// rules' packet counters (iptables-save -c after this probe minus after the previous one), with
// the DNAT chosen on the way and, optionally, the statistic probabilities of a service chain.
import { parseIptablesSaveCounters, withDeltas, type RuleDelta } from '../evidence/iptables-save.ts';
import { earlierDump, probeDump, type Evidence } from '../evidence/read.ts';
import type { ProbeSpec } from '../contract.ts';
import type { IptablesExpect, Topology } from '../model.ts';
import type { Plan } from '../plan.ts';
import type { Check, CheckKind } from './types.ts';

const matchesName = (want: string, name: string | undefined) =>
  !!name && (want.endsWith('*') ? name.startsWith(want.slice(0, -1)) : name === want);

const ruleLine = (r: RuleDelta) => `+${r.delta} [${r.packets}:${r.bytes}] ${r.text}`;

export function iptablesChecks(topo: Topology, plan: Plan, probes: ProbeSpec[], ev: Evidence, spec: ProbeSpec, x: IptablesExpect, answeredBy?: string): Check[] {
  const checks: Check[] = [];
  const name = `iptables on ${x.node} (${x.table}): ${x.path.join(' → ')}`;
  const text = probeDump(ev, plan, spec.id, 'iptables', x.node);
  if (text === undefined) {
    return [{ name, expected: 'counters of every hop increased', observed: 'no iptables-save -c dump after the probe', passed: false, evidence: [] }];
  }
  const prevText = earlierDump(ev, plan, probes, spec, 'iptables', x.node);
  const rules = withDeltas(parseIptablesSaveCounters(text), prevText === undefined ? undefined : parseIptablesSaveCounters(prevText)).filter((r) => r.table === x.table);
  const podByIp = new Map(topo.cluster.pods.map((p) => [p.ip, p.name]));
  let current = new Set([x.path[0]!]);
  const hops: string[] = [x.path[0]!];
  const evidence: string[] = [];
  const dnats: string[] = [];
  let failed: string | undefined;
  for (let i = 1; i < x.path.length && !failed; i++) {
    const want = x.path[i]!;
    const from = rules.filter((r) => current.has(r.chain));
    const hit = from.filter((r) => matchesName(want, r.target) && r.delta > 0);
    if (!hit.length) {
      const cands = from.filter((r) => matchesName(want, r.target));
      failed = cands.length
        ? `no packet counted by ${[...current].join('/')} → ${want} (${cands.length} such rule${cands.length > 1 ? 's' : ''}, counters unchanged)`
        : `${[...current].join('/')} has no rule jumping to ${want}`;
      evidence.push(...(cands.length ? cands : from).slice(0, 6).map(ruleLine));
      break;
    }
    evidence.push(...hit.map(ruleLine));
    const per = hit.map((r) => {
      const to = /--to-destination (\S+)/.exec(r.text)?.[1];
      if (to) {
        const pod = podByIp.get(to.split(':')[0]!);
        dnats.push(to);
        return `${r.target} +${r.delta}${to ? ` to ${to}${pod ? ` (${pod})` : ''}` : ''}${r.target !== 'DNAT' ? ` in ${r.chain}` : ''}`;
      }
      return `${r.target} +${r.delta}`;
    });
    hops.push(per.join(' | '));
    current = new Set(hit.map((r) => r.target!));
  }
  let passed = !failed;
  let observed = failed ?? hops.join(' → ');
  const answerIp = answeredBy ? topo.cluster.pods.find((p) => p.name === answeredBy)?.ip : undefined;
  if (passed && answerIp && dnats.length && spec.mode === 'single' && !dnats.some((d) => d.split(':')[0] === answerIp)) {
    passed = false;
    observed += `; but ${answeredBy} (${answerIp}) answered, which no counted DNAT chose`;
  }
  if (prevText === undefined) evidence.push('(counters since the rules were restored: this is the scenario\'s first probe)');
  checks.push({ name, expected: 'a counted packet on every hop', observed, passed, evidence });

  if (x.probabilities) {
    const sepAt = x.path.findIndex((p) => p.startsWith('KUBE-SEP-'));
    const chain = sepAt > 0 ? x.path[sepAt - 1]! : x.path.at(-2)!;
    const lb = rules.filter((r) => r.chain === chain && /--probability/.test(r.text));
    const got = lb.map((r) => Number(/--probability (\S+)/.exec(r.text)![1]));
    const want = [...x.probabilities];
    const ok = got.length === want.length && got.every((g, i) => Math.abs(g - want[i]!) < 1e-6);
    checks.push({
      name: `statistic probabilities in ${chain} on ${x.node}`,
      expected: want.join(', '),
      observed: got.length ? lb.map((r) => /--probability (\S+)/.exec(r.text)![1]).join(', ') : 'no statistic rule',
      passed: ok,
      evidence: rules.filter((r) => r.chain === chain).map(ruleLine),
    });
  }
  return checks;
}

export const iptables: CheckKind = {
  fields: ['iptables'],
  references: (e) => (e.iptables ?? []).map((x, m) => ({ path: ['expect', 'iptables', m, 'node'], kind: 'node', ref: x.node })),
  dumps: (p) => (p.expect.iptables ?? []).map((x) => ({ kind: 'iptables', object: x.node })),
  everyProbe: (probes) => probes.flatMap((p) => (p.expect.iptables ?? []).map((x) => ({ kind: 'iptables', object: x.node }))),
  judgeState: (c) => (c.spec.probe.expect.iptables ?? []).flatMap((x) => iptablesChecks(c.topo, c.plan, c.probes, c.ev, c.spec, x, c.answeredBy)),
};
