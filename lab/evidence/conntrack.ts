// Evidence: parses `conntrack -L -o extended` (the agent's conntrack dump of a namespace).

export interface ConntrackEntry {
  proto: string;
  state?: string;
  orig: { src: string; dst: string; sport?: number; dport?: number };
  reply: { src: string; dst: string; sport?: number; dport?: number };
  raw: string;
}

export function parseConntrack(text: string): ConntrackEntry[] {
  const out: ConntrackEntry[] = [];
  for (const line of text.split('\n')) {
    const kv = [...line.matchAll(/\b(src|dst|sport|dport)=(\S+)/g)];
    if (kv.length < 4) continue;
    const half = (from: number) => {
      const o: Record<string, string> = {};
      for (const m of kv.slice(from)) {
        if (m[1]! in o) break;
        o[m[1]!] = m[2]!;
      }
      return { src: o.src!, dst: o.dst!, sport: o.sport ? Number(o.sport) : undefined, dport: o.dport ? Number(o.dport) : undefined };
    };
    const orig = half(0);
    const secondSrc = kv.findIndex((m, i) => i > 0 && m[1] === 'src');
    if (secondSrc < 0) continue;
    const proto = /^\s*ipv4\s+\d+\s+(\w+)/.exec(line)?.[1] ?? /^\s*(\w+)/.exec(line)?.[1] ?? '';
    const state = /\b(SYN_SENT|SYN_RECV|ESTABLISHED|FIN_WAIT|CLOSE_WAIT|LAST_ACK|TIME_WAIT|CLOSE|LISTEN)\b/.exec(line)?.[1];
    out.push({ proto, state, orig, reply: half(secondSrc), raw: line.trim() });
  }
  return out;
}
