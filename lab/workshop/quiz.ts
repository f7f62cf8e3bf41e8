// `lab quiz ID`: the workshop's "predict, then run" step. The sheet shows the topology (objects,
// their addresses and links) and the probes — never the story and never the expectations — then
// each prediction is scored against the run's evidence only: the probe's observed reachability
// (its attempts), the request path traced through the captures, and the source address of the
// request where the server's own interface captured it. The scenario's `expect` is not read.
import readline from 'node:readline/promises';
import type { Hop, ProbeResult } from '../checks/analyze.ts';
import type { ProbeSpec } from '../contract.ts';
import type { Topology } from '../model.ts';
import type { Plan } from '../plan.ts';
import { oneLine } from '../report/escape.ts';
import { topologyEdges } from '../report/topology.ts';
import { resolveAddress } from '../topology/refs.ts';
import { fieldProblem, type Prediction, type QuizProbe } from './quiz-answers.ts';

export const quizProbes = (probes: ProbeSpec[]): QuizProbe[] => probes.map((p) => ({ key: p.id, name: p.probe.name }));

function addressOf(object: string, topo: Topology): string {
  try { return resolveAddress(object, topo).ip; } catch { return ''; }
}

/** The quiz sheet: objects by kind with addresses and interfaces, links, the probes. */
export function quizSheet(topo: Topology, id: string, plan: Plan, probes: ProbeSpec[]): string {
  // No title either: a title such as "client → SLB → nginx-b's ENI" gives the path away.
  const out = [`quiz ${id} (${topo.family})`, '', 'objects (interface [what it is]):'];
  for (const n of plan.namespaces) {
    const ip = addressOf(n.object, topo);
    const ifs = plan.interfaces.filter((i) => i.object === n.object && i.name !== 'lo')
      .map((i) => i.name + (i.aliases.length ? ` [${i.aliases.join(', ')}]` : ''));
    out.push(`  ${n.object} (${n.kind}${ip ? `, ${ip}` : ''}): ${ifs.join(', ') || '-'}`);
  }
  out.push('', 'links:');
  for (const e of topologyEdges(plan)) out.push(`  ${e.a.object}:${e.a.name} ${e.kind === 'veth' ? '━━' : e.kind === 'ipvlan' ? '╌╌ ipvlan on' : '┈┈ vlan on'} ${e.b.object}:${e.b.name}`);
  out.push('', 'probes:');
  for (const p of probes) out.push(`  ${p.id} "${p.probe.name}": ${p.from} → ${p.probe.to} (${p.dstIp}:${p.dstPort})${p.mode === 'bulk' ? ', many connections' : ''}`);
  out.push('', 'predict for each probe: reachable? which interfaces does the request cross? which source address does the server see?');
  return out.join('\n');
}

/** Asks for each probe's prediction on the terminal; a bad answer is asked again. */
export async function askPredictions(probes: QuizProbe[], plan: Plan): Promise<Map<string, Prediction>> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
  const out = new Map<string, Prediction>();
  const ask = async <T>(q: string, field: string, parse: (a: string) => unknown): Promise<T | undefined> => {
    for (;;) {
      const a = (await rl.question(q)).trim();
      if (!a) return undefined;
      const v = parse(a);
      const problem = fieldProblem(field, v, plan);
      if (!problem) return v as T;
      process.stdout.write(`  expected ${problem}\n`);
    }
  };
  try {
    for (const p of probes) {
      process.stdout.write(`\n${p.key} "${p.name}" (Enter skips a question)\n`);
      const reachable = await ask<boolean>('  reachable? [y/n] ', 'reachable', (a) => (/^(y|yes|true)$/i.test(a) ? true : /^(n|no|false)$/i.test(a) ? false : a));
      const crosses = await ask<string[]>('  interfaces the request crosses (object or object:iface, comma-separated) ', 'crosses', (a) => a.split(',').map((x) => x.trim()).filter(Boolean));
      const source = await ask<string>('  source address the server sees ', 'source', (a) => a);
      const pred: Prediction = {};
      if (reachable !== undefined) pred.reachable = reachable;
      if (crosses) pred.crosses = crosses;
      if (source) pred.source = source;
      if (Object.keys(pred).length) out.set(p.key, pred);
    }
  } finally {
    rl.close();
  }
  return out;
}

export interface Scored {
  item: 'reachable' | 'crosses' | 'source';
  predicted: string;
  observed: string;
  right: boolean | null; // null: the run has no evidence that decides it
  evidence: string[];
}

export interface ProbeScore {
  key: string;
  name: string;
  items: Scored[];
}

const hopText = (h: Hop) => `${h.label} ${h.dir} ${h.src} > ${h.dst}`;

/** Whether hop `h` is the interface (or object) `ref` names. */
function crosses(plan: Plan, h: Hop, ref: string): boolean {
  const [object, iface] = ref.split(':');
  if (h.object !== object) return false;
  if (iface === undefined) return true;
  if (h.ifname === iface) return true;
  return plan.interfaces.some((i) => i.object === h.object && i.name === h.ifname && i.aliases.includes(iface));
}

/** The request as the server's own interface captured it: the last hop into the answering object. */
export function serverHop(r: ProbeResult): Hop | undefined {
  if (!r.reachable || !r.answeredBy) return undefined;
  return [...r.path].reverse().find((h) => h.object === r.answeredBy && h.dir === 'In');
}

function attemptsEvidence(r: ProbeResult): string[] {
  if (r.bulk) return [`${r.bulk.answered} of ${r.bulk.total} connections answered`];
  const who = (reply: string) => /pod=\S+ ip=\S+/.exec(reply)?.[0] ?? oneLine(reply).slice(0, 48);
  return r.attempts.map((a) => `attempt ${a.n}: ${a.rc === 0 ? `answered${a.reply ? ` "${who(a.reply)}"` : ''}` : `no answer (status ${a.rc})`}`);
}

export function scoreProbe(plan: Plan, q: QuizProbe, pred: Prediction, r: ProbeResult): ProbeScore {
  const items: Scored[] = [];
  const traced = r.path.length > 0;
  if (pred.reachable !== undefined) {
    items.push({ item: 'reachable', predicted: pred.reachable ? 'yes' : 'no', observed: r.reachable ? 'yes' : 'no', right: pred.reachable === r.reachable, evidence: attemptsEvidence(r) });
  }
  if (pred.crosses) {
    const missed = pred.crosses.filter((ref) => !r.path.some((h) => crosses(plan, h, ref)));
    items.push({
      item: 'crosses', predicted: pred.crosses.join(', '), observed: traced ? r.path.map((h) => h.label).join(' → ') : 'no path traced',
      right: traced ? missed.length === 0 : null,
      evidence: traced ? [...r.path.map(hopText), ...(missed.length ? [`not crossed: ${missed.join(', ')}`] : [])] : ['the captures traced no request path for this probe'],
    });
  }
  if (pred.source) {
    const h = serverHop(r);
    items.push({
      item: 'source', predicted: pred.source, observed: h ? h.src : 'no server saw the request',
      right: h ? h.src === pred.source : r.reachable ? null : false,
      evidence: h ? [`captured at the server: ${hopText(h)}`] : r.reachable ? ['the answering server\'s interface captured no request'] : ['no attempt was answered: the request reached no server'],
    });
  }
  return { key: q.key, name: q.name, items };
}

export function renderScores(id: string, scores: ProbeScore[], results: ProbeResult[]): string {
  const all = scores.flatMap((s) => s.items);
  const right = all.filter((i) => i.right === true).length;
  const out = [`quiz ${id}: ${right} of ${all.length} predictions right (scored against the run's evidence)`];
  for (const s of scores) {
    const r = results.find((x) => x.id === s.key);
    out.push('', `${s.key} "${s.name}": ${r ? `${r.from} → ${r.to} (${r.target})` : ''}`);
    for (const i of s.items) {
      const mark = i.right === true ? '✔ right' : i.right === false ? '✘ wrong' : '? undecided';
      out.push(`  ${mark}  ${i.item}: you said ${i.predicted}; the run: ${i.observed}`);
      for (const e of i.evidence) out.push(`      ${e}`);
    }
  }
  return out.join('\n');
}
