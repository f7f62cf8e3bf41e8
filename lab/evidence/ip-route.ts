// Evidence: parses `ip route show table all` (text): main-table routes and the table of the others.

export interface KernelRouteLine {
  prefix: string;
  type: string;
  via?: string;
  dev?: string;
  proto?: string;
  scope?: string;
  table?: string;
  raw: string;
}

const TYPES = new Set(['unicast', 'blackhole', 'unreachable', 'prohibit', 'local', 'broadcast', 'throw', 'multicast', 'anycast', 'nat']);

export function parseIpRouteText(text: string): KernelRouteLine[] {
  const out: KernelRouteLine[] = [];
  for (const raw of text.split('\n')) {
    const w = raw.trim().split(/\s+/);
    if (!w[0]) continue;
    let i = 0;
    const type = TYPES.has(w[0]) ? w[i++]! : 'unicast';
    const dst = w[i++];
    if (!dst) continue;
    const kv = (k: string) => {
      const j = w.indexOf(k, i);
      return j >= 0 ? w[j + 1] : undefined;
    };
    out.push({
      prefix: dst === 'default' ? '0.0.0.0/0' : dst.includes('/') ? dst : `${dst}/32`,
      type, via: kv('via'), dev: kv('dev'), proto: kv('proto'), scope: kv('scope'), table: kv('table') ?? 'main', raw: raw.trim(),
    });
  }
  return out;
}
