// Evidence: parses `iptables-save -c` — every rule of every table with its packet and byte
// counters, its position in its chain, its target and its comment. Counters are cumulative, so a
// probe's share is its dump minus an earlier one (`withDeltas`). One parser for every check that
// reads rule counters (kube-proxy's iptables chains, security-group verdicts).

export interface CountedRule {
  table: string;
  chain: string;
  pos: number; // 1-based within the chain
  packets: number;
  bytes: number;
  text: string; // "-A CHAIN …" without the counters
  target?: string; // -j or -g
  comment?: string; // -m comment --comment "…"
}

export function parseIptablesSaveCounters(text: string): CountedRule[] {
  const out: CountedRule[] = [];
  let table = '';
  const pos = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) {
      table = line.slice(1).trim();
      continue;
    }
    const m = /^\[(\d+):(\d+)\]\s+(-A\s+(\S+).*)$/.exec(line);
    if (!m) continue;
    const rule = m[3]!;
    const chain = m[4]!;
    const k = `${table}|${chain}`;
    const n = (pos.get(k) ?? 0) + 1;
    pos.set(k, n);
    const target = /\s-[jg]\s+(\S+)/.exec(rule)?.[1];
    const comment = /--comment\s+(?:"((?:[^"\\]|\\.)*)"|(\S+))/.exec(rule);
    out.push({ table, chain, pos: n, packets: Number(m[1]), bytes: Number(m[2]), text: rule, target, comment: comment ? (comment[1] ?? comment[2]) : undefined });
  }
  return out;
}

export interface RuleDelta extends CountedRule {
  delta: number; // packets counted since `before`
}

/** Each rule of `now` with the packets it counted since `before` (undefined: since the restore, zero). */
export function withDeltas(now: CountedRule[], before: CountedRule[] | undefined): RuleDelta[] {
  const key = (r: CountedRule) => `${r.table}|${r.chain}|${r.pos}|${r.text}`;
  const prev = new Map((before ?? []).map((r) => [key(r), r.packets]));
  return now.map((r) => ({ ...r, delta: r.packets - (prev.get(key(r)) ?? 0) }));
}
