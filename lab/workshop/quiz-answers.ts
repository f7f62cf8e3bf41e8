// The predictions of `lab quiz`, from an answers file (YAML or JSON: JSON is YAML) or a prompt.
// The file is input like a topology: a bounded read, YAML shape bounds, and every problem an
// InputError (exit 2) at file:line with the field, the value and what was expected.
//
//   scenario: eniip-5            # optional; when given, the quiz's id
//   probes:
//     probe 1:                   # a probe's name as the quiz prints it, or p1, p2 … (its number)
//       reachable: true          # does the request get an answer?
//       crosses: [ecs1:eth0, vpc]   # interfaces (object:iface, object:alias, or an object) it crosses
//       source: 10.0.1.82        # the source address the server sees
import { isMap, isScalar, LineCounter, parseDocument } from 'yaml';
import { InputError, type InputIssue } from '../errors.ts';
import { isIpv4 } from '../net.ts';
import type { Plan } from '../plan.ts';
import { Locator } from '../topology/locate.ts';
import { checkShape, MAX_ALIAS_COUNT, readTopologyText } from '../topology/read.ts';

export interface Prediction {
  reachable?: boolean;
  crosses?: string[];
  source?: string;
}

/** A probe as the quiz shows it: `p<N>` and its name both name it in an answers file. */
export interface QuizProbe {
  key: string; // p1, p2 …
  name: string;
}

const FIELDS = ['reachable', 'crosses', 'source'] as const;

/** Why `ref` names no object or interface of the plan (undefined when it does). */
export function crossingProblem(ref: string, plan: Plan): string | undefined {
  const [object, iface, ...rest] = ref.split(':');
  if (rest.length || !object) return 'object or object:iface';
  if (!plan.namespaces.some((n) => n.object === object)) return `an object of this scenario (${plan.namespaces.map((n) => n.object).join(', ')})`;
  if (iface === undefined) return undefined;
  const ifs = plan.interfaces.filter((i) => i.object === object);
  if (ifs.some((i) => i.name === iface || i.aliases.includes(iface))) return undefined;
  return `an interface of ${object} (${ifs.map((i) => i.name + (i.aliases.length ? ` [${i.aliases.join(', ')}]` : '')).join(', ')})`;
}

/** Checks one prediction field; returns what was expected when the value is wrong. */
export function fieldProblem(field: string, value: unknown, plan: Plan): string | undefined {
  switch (field) {
    case 'reachable': return typeof value === 'boolean' ? undefined : 'true or false';
    case 'source': return typeof value === 'string' && isIpv4(value) ? undefined : 'an IPv4 address, e.g. 10.0.1.82';
    case 'crosses': {
      if (!Array.isArray(value) || !value.length) return 'a list of interfaces, e.g. [ecs1:eth0, vpc]';
      for (const v of value) {
        if (typeof v !== 'string') return 'each entry a string: object or object:iface';
        const p = crossingProblem(v, plan);
        if (p) return `"${v}": ${p}`;
      }
      return undefined;
    }
    default: return `one of ${FIELDS.join(', ')}`;
  }
}

const show = (v: unknown) => JSON.stringify(v) ?? String(v);

/** Reads and validates an answers file: probe key → prediction. */
export function readAnswers(file: string, scenarioId: string, probes: QuizProbe[], plan: Plan): Map<string, Prediction> {
  const text = readTopologyText(file);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  checkShape(doc, lines, file);
  const loc = new Locator(file, doc, lines);
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const pos = lines.linePos(e.pos[0]);
    throw new InputError([{ file, line: pos.line, column: pos.col, field: '(yaml)', message: e.message.split('\n')[0]! }]);
  }
  const raw: unknown = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  const issues: InputIssue[] = [];
  const out = new Map<string, Prediction>();
  if (!isMap(doc.contents)) throw new InputError([loc.issue([], `value ${show(raw)}: expected a mapping with "probes" (and optionally "scenario")`)]);
  const top = raw as Record<string, unknown>;
  for (const k of Object.keys(top)) if (k !== 'scenario' && k !== 'probes') issues.push(loc.issue([k], `unknown field: expected scenario or probes`));
  if (top.scenario !== undefined && top.scenario !== scenarioId) issues.push(loc.issue(['scenario'], `value ${show(top.scenario)}: expected "${scenarioId}" (the quiz being answered)`));
  const ps = top.probes;
  if (!ps || typeof ps !== 'object' || Array.isArray(ps)) {
    issues.push(loc.issue(['probes'], `value ${show(ps ?? null)}: expected a mapping of probe (${probes.map((p) => `${p.key} or "${p.name}"`).join(', ')}) → prediction`));
    throw new InputError(issues);
  }
  // A problem with a probe's key is reported at the key's own line, not at its value's.
  const atKey = (key: string, message: string): InputIssue => {
    const m = doc.getIn(['probes'], true);
    const k = isMap(m) ? m.items.find((i) => isScalar(i.key) && String(i.key.value) === key)?.key : undefined;
    const pos = isScalar(k) && k.range ? lines.linePos(k.range[0]) : undefined;
    const base = loc.issue(['probes', key], message);
    return pos ? { ...base, line: pos.line, column: pos.col } : base;
  };
  for (const [key, pred] of Object.entries(ps as Record<string, unknown>)) {
    const probe = probes.find((p) => p.key === key || p.name === key);
    if (!probe) { issues.push(atKey(key, `no probe "${key}" in ${scenarioId}: expected ${probes.map((p) => `${p.key} or "${p.name}"`).join(', ')}`)); continue; }
    if (out.has(probe.key)) { issues.push(atKey(key, `probe ${probe.key} ("${probe.name}") predicted twice`)); continue; }
    if (!pred || typeof pred !== 'object' || Array.isArray(pred)) { issues.push(loc.issue(['probes', key], `value ${show(pred)}: expected a mapping with ${FIELDS.join(', ')}`)); continue; }
    const p: Prediction = {};
    for (const [field, value] of Object.entries(pred as Record<string, unknown>)) {
      const problem = fieldProblem(field, value, plan);
      if (problem) { issues.push(loc.issue(['probes', key, field], `value ${show(value)}: expected ${problem}`)); continue; }
      (p as Record<string, unknown>)[field] = value;
    }
    if (!Object.keys(p).length && !issues.length) issues.push(loc.issue(['probes', key], `no prediction: expected at least one of ${FIELDS.join(', ')}`));
    out.set(probe.key, p);
  }
  if (!out.size && !issues.length) issues.push(loc.issue(['probes'], 'no probe predicted'));
  if (issues.length) throw new InputError(issues);
  return out;
}
