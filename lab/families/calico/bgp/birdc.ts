// Parsers for birdc and `ip -j route` output: what the checks read back from BIRD and the kernel.
import type { BirdProtocol, BirdRoute, KernelRoute } from './types.ts';

// ---------------------------------------------------------------------------------------------------
// Parsers

const TIME_TOKEN = /^(\d{4}-\d{2}-\d{2}|\d{2}:\d{2}:\d{2}(\.\d+)?|\d{2}:\d{2}|[A-Z][a-z]{2}\d{1,2})$/;

/** Lines of birdc output with the `BIRD x.y.z ready.` banner and `-v` numeric codes removed. */
function birdLines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.replace(/^\d{4}[- ]/, ''))
    .filter((l) => !/^BIRD [\d.]+.* ready\.$/.test(l.trim()));
}

/**
 * Parses `birdc -s <sock> show protocols` (BIRD 2). The header line (`Name Proto Table State Since Info`)
 * is skipped. The `Since` column is one or two tokens (date and/or time, depending on `timeformat`); every
 * token after State that looks like a date or time is taken as Since, the rest is Info.
 */
export function parseBirdProtocols(text: string): BirdProtocol[] {
  const out: BirdProtocol[] = [];
  for (const line of birdLines(text)) {
    if (line.trim() === '') continue;
    if (/^Name\s+Proto\s+Table\s+State/.test(line)) continue;
    const tokens = line.trim().split(/\s+/);
    if (tokens.length < 4) continue;
    const [name, proto, table, state] = tokens as [string, string, string, string];
    let i = 4;
    const since: string[] = [];
    while (i < tokens.length && TIME_TOKEN.test(tokens[i]!)) since.push(tokens[i++]!);
    // Keep Info's internal spacing: cut the line after the last Since token (or after State).
    let pos = 0;
    for (let k = 0; k < i; k++) {
      pos = line.indexOf(tokens[k]!, pos) + tokens[k]!.length;
    }
    const info = line.slice(pos).trim();
    out.push({ name, proto, table, state, since: since.join(' '), info });
  }
  return out;
}

/** True for a BGP protocol whose session is up (`State up`, `Info Established`). */
export function isEstablished(p: BirdProtocol): boolean {
  return p.proto === 'BGP' && p.state === 'up' && /^Established\b/.test(p.info);
}

const ROUTE_HEADER =
  /^(\S+)?\s+(unicast|blackhole|unreachable|prohibit|multicast|via\s+\S+(?:\s+on\s+\S+)?|dev\s+\S+)?\s*\[(\S+)((?:\s+[^\]\s]+)*?)(?:\s+from\s+(\S+))?\]\s*(\*)?\s*(?:\((\d+)(?:\/[^)]*)?\))?\s*(?:\[([^\]]*)\])?\s*$/;

/**
 * Parses `birdc show route` / `birdc show route all` (BIRD 2.0 format):
 *
 * ```
 * Table master4:
 * 10.217.120.64/26     unicast [Node_192_168_64_1 12:00:01.123 from 192.168.64.1] * (100/0) [i]
 * 	via 192.168.64.58 on eth0
 * 	Type: BGP univ
 * 	BGP.as_path: 65001
 * 10.217.11.0/26       blackhole [static1 12:00:00.000] * (200)
 * ```
 *
 * Continuation routes for the same prefix (leading blanks instead of a prefix) inherit the prefix.
 * Older 2.0 releases print the next hop in the header (`via 1.2.3.4 on eth0 [proto …]`); that form is
 * accepted too.
 */
export function parseBirdRoutes(text: string): BirdRoute[] {
  interface Mut {
    prefix: string;
    kind: string;
    protocol: string;
    via: string[];
    dev: string[];
    from: string | null;
    primary: boolean;
    preference: number | null;
    origin: string | null;
    attrs: Record<string, string>;
    bgp: boolean;
  }
  const done: Mut[] = [];
  let cur: Mut | null = null;
  let lastPrefix = '';
  const flush = (): void => {
    if (cur) done.push(cur);
    cur = null;
  };
  for (const raw of birdLines(text)) {
    if (raw.trim() === '') continue;
    if (/^Table \S+:$/.test(raw.trim())) {
      flush();
      continue;
    }
    const header = ROUTE_HEADER.exec(raw);
    const isIndentedDetail = /^\t/.test(raw) || (/^\s/.test(raw) && !raw.includes('['));
    if (header && !isIndentedDetail) {
      flush();
      const prefix = header[1] ?? lastPrefix;
      lastPrefix = prefix;
      const kindField = header[2] ?? 'unicast';
      const via: string[] = [];
      const dev: string[] = [];
      let kind = kindField;
      const inlineVia = /^via\s+(\S+)/.exec(kindField);
      const inlineDev = /^dev\s+(\S+)/.exec(kindField);
      if (inlineVia) {
        kind = 'unicast';
        via.push(inlineVia[1]!);
        const on = /\bon\s+(\S+)/.exec(kindField);
        if (on) dev.push(on[1]!);
      } else if (inlineDev) {
        kind = 'unicast';
        dev.push(inlineDev[1]!);
      }
      cur = {
        prefix,
        kind,
        protocol: header[3]!,
        via,
        dev,
        from: header[5] ?? null,
        primary: header[6] === '*',
        preference: header[7] !== undefined ? Number(header[7]) : null,
        origin: header[8] !== undefined ? `[${header[8]}]` : null,
        attrs: {},
        bgp: header[8] !== undefined,
      };
      continue;
    }
    if (!cur) continue;
    const line = raw.trim();
    const via = /^via\s+(\S+)\s+on\s+(\S+)/.exec(line);
    if (via) {
      cur.via.push(via[1]!);
      cur.dev.push(via[2]!);
      continue;
    }
    const dev = /^dev\s+(\S+)/.exec(line);
    if (dev) {
      cur.dev.push(dev[1]!);
      continue;
    }
    const attr = /^([A-Za-z][\w.]*):\s?(.*)$/.exec(line);
    if (attr) {
      cur.attrs[attr[1]!] = attr[2]!;
      if (attr[1] === 'Type' && /^BGP\b/.test(attr[2]!)) cur.bgp = true;
      if (attr[1]!.startsWith('BGP.')) cur.bgp = true;
    }
  }
  flush();
  return done.map((m) => ({
    prefix: m.prefix,
    kind: m.kind,
    protocol: m.protocol,
    via: m.via,
    dev: m.dev,
    fromPeer: m.from ?? (m.bgp && m.via.length > 0 ? m.via[0]! : null),
    primary: m.primary,
    preference: m.preference,
    origin: m.origin,
    attrs: m.attrs,
  }));
}

/**
 * Parses `ip -j route show` (iproute2 JSON, IPv4) into {@link KernelRoute}s. Host routes, which iproute2
 * prints without a length (`10.217.120.72`), become `/32` like BIRD prints them; `default` stays `default`.
 * Multipath routes list every `nexthops[].gateway` in `via`.
 */
export function parseIpRouteJson(text: string): KernelRoute[] {
  const data: unknown = JSON.parse(text.trim() === '' ? '[]' : text);
  if (!Array.isArray(data)) throw new Error('ip -j route: expected a JSON array');
  return data.map((r: Record<string, unknown>) => {
    const via: string[] = [];
    if (typeof r['gateway'] === 'string') via.push(r['gateway']);
    if (Array.isArray(r['nexthops'])) {
      for (const nh of r['nexthops'] as Record<string, unknown>[]) {
        if (typeof nh['gateway'] === 'string') via.push(nh['gateway']);
      }
    }
    const dst = String(r['dst']);
    return {
      prefix: dst === 'default' || dst.includes('/') ? dst : `${dst}/32`,
      type: typeof r['type'] === 'string' ? r['type'] : 'unicast',
      via,
      dev: typeof r['dev'] === 'string' ? r['dev'] : null,
      protocol: typeof r['protocol'] === 'string' ? r['protocol'] : null,
      scope: typeof r['scope'] === 'string' ? r['scope'] : null,
    };
  });
}
