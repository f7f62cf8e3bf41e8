// The tc filters a build attaches, read back from the plan (the batches the agent applies):
// eBPF programs (`bpf da pinned …/from_container`) and u32 redirects (`mirred … redirect dev X`),
// per interface and direction — the badges of the topology picture and the deciders of hops.
import type { Plan } from '../plan.ts';

export interface TcFilter {
  object: string;
  dev: string;
  dir: 'ingress' | 'egress';
  kind: 'ebpf' | 'u32';
  /** eBPF: the program's name (from_container, to_container); u32: "dst CIDR → redirect to DEV". */
  what: string;
  line: string;
}

function parse(object: string, line: string): TcFilter | undefined {
  const m = /^filter (?:add|replace) dev (\S+) (ingress|egress)\b(.*)$/.exec(line.trim());
  if (!m) return undefined;
  const rest = m[3]!;
  const bpf = /\bbpf\b.*\bpinned (\S+)/.exec(rest);
  if (bpf) return { object, dev: m[1]!, dir: m[2] as TcFilter['dir'], kind: 'ebpf', what: bpf[1]!.split('/').at(-1)!, line: line.trim() };
  const redirect = /mirred (ingress|egress) redirect dev (\S+)/.exec(rest);
  if (/\bu32\b/.test(rest) && redirect) {
    const dst = /match ip dst (\S+)/.exec(rest)?.[1];
    return { object, dev: m[1]!, dir: m[2] as TcFilter['dir'], kind: 'u32', what: `${dst ? `dst ${dst} ` : ''}→ redirect to ${redirect[2]} (${redirect[1]})`, line: line.trim() };
  }
  return undefined;
}

export function tcFilters(plan: Plan): TcFilter[] {
  const out: TcFilter[] = [];
  for (const s of plan.steps) {
    if (!s.object) continue;
    const lines = s.tool === 'tc' ? s.lines ?? []
      : s.argv?.[0] === 'tc' && s.argv[1] === '-batch' ? (plan.files[s.argv[2]!.replace(/^@JOB@\//, '')] ?? '').split('\n') : [];
    for (const l of lines) {
      const f = parse(s.object, l);
      if (f) out.push(f);
    }
  }
  return out;
}

export function tcOn(plan: Plan, object: string, dev: string, dir: 'ingress' | 'egress', kind?: TcFilter['kind']): TcFilter[] {
  return tcFilters(plan).filter((f) => f.object === object && f.dev === dev && f.dir === dir && (!kind || f.kind === kind));
}
