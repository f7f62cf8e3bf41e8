// Parsers for the state dumps: conntrack -L -o extended and ipvsadm -Ln.

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

export interface IpvsService {
  proto: string;
  vip: string;
  port: number;
  scheduler: string;
  backends: { ip: string; port: number; forward: string; weight: number; active: number; inactive: number }[];
  raw: string;
}

export function parseIpvsadm(text: string): IpvsService[] {
  const out: IpvsService[] = [];
  let cur: IpvsService | undefined;
  for (const line of text.split('\n')) {
    const s = /^(TCP|UDP|SCTP)\s+(\d+\.\d+\.\d+\.\d+):(\d+)\s+(\S+)/.exec(line);
    if (s) {
      cur = { proto: s[1]!, vip: s[2]!, port: Number(s[3]), scheduler: s[4]!, backends: [], raw: line.trim() };
      out.push(cur);
      continue;
    }
    const r = /^\s+->\s+(\d+\.\d+\.\d+\.\d+):(\d+)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)/.exec(line);
    if (r && cur) {
      cur.backends.push({ ip: r[1]!, port: Number(r[2]), forward: r[3]!, weight: Number(r[4]), active: Number(r[5]), inactive: Number(r[6]) });
      cur.raw += '\n' + line.trim();
    }
  }
  return out;
}
