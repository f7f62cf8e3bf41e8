// `cilium bpf lb list` and `cilium bpf ct list` as text, from decoded map contents.
import { ipToInt } from '../../../net.ts';
import type { CtEntry, LbMapsDump, ServiceEntry, ServiceKey } from './codec.ts';
import { CT_EGRESS, CT_SERVICE, fail, formatServiceFlags, protoName } from './layout.ts';
import { cmpAddrPort } from './table.ts';

/**
 * Go's text/tabwriter as `cilium` configures it (minwidth 5, tabwidth 0,
 * padding 3, pad ' ', no flags) for rows of tab-terminated cells: every cell is
 * padded to its column's width, trailing spaces included.
 */
export function goTabwriter(rows: readonly (readonly string[])[], minwidth = 5, padding = 3): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? minwidth, c.length + padding)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('') + '\n').join('');
}

export type LbListMode = 'services' | 'revnat' | 'backends';

export interface LbListOptions {
  /** 'services' (default, `cilium bpf lb list`), 'revnat' (`--revnat`), 'backends' (`--backends`). */
  mode?: LbListMode;
  /** Strip the trailing spaces Go's tabwriter leaves on every line (default false: byte-exact). */
  trimTrailingSpace?: boolean;
}

export const LB_LIST_TITLES = {
  serviceAddress: 'SERVICE ADDRESS',
  backendAddress: 'BACKEND ADDRESS (REVNAT_ID) (SLOT)',
  id: 'ID',
} as const;

/** The first-column string of a service key (Cilium v1.14 Service4Key.String()). */
export function serviceKeyString(k: ServiceKey): string {
  return `${k.address}:${k.port}${k.scope === 1 ? '/i' : ''}`;
}

/**
 * Print map contents like `cilium bpf lb list` (cilium-dbg/cmd/bpf_lb_list.go,
 * TablePrinter). For each service-map entry of a frontend address: slot 0 is
 * `0.0.0.0:0 (<revnat>) (0) [<flags>] `, slot n is
 * `<backend ip>:<port>/<PROTO> (<revnat>) (<n>)` or `backend <id> not found`.
 * Cilium iterates a Go map (random order); here frontends are sorted by
 * address and port, and each one's entries by slot.
 */
export function formatLbList(dump: LbMapsDump, opts: LbListOptions = {}): string {
  const mode = opts.mode ?? 'services';
  const rows: string[][] = [];
  if (mode === 'services') {
    rows.push([LB_LIST_TITLES.serviceAddress, LB_LIST_TITLES.backendAddress]);
    const backends = new Map(dump.backends.map((b) => [b.id, b]));
    const groups = new Map<string, { key: ServiceKey; entries: ServiceEntry[] }>();
    for (const e of dump.services) {
      const s = serviceKeyString(e.key);
      const g = groups.get(s) ?? { key: e.key, entries: [] };
      g.entries.push(e);
      groups.set(s, g);
    }
    const ordered = [...groups.entries()].sort(
      ([, a], [, b]) => cmpAddrPort(a.key, b.key) || a.key.scope - b.key.scope,
    );
    for (const [name, g] of ordered) {
      g.entries.sort((a, b) => a.key.slot - b.key.slot || a.key.proto - b.key.proto);
      g.entries.forEach((e, i) => {
        let cell: string;
        if (e.key.slot === 0) {
          cell = `0.0.0.0:0 (${e.value.revNatIndex}) (0) [${formatServiceFlags(e.value.flags, e.value.flags2)}] `;
        } else {
          const be = backends.get(e.value.backendId);
          cell = be
            ? `${be.address}:${be.port}/${protoName(be.proto)} (${e.value.revNatIndex}) (${e.key.slot})`
            : `backend ${e.value.backendId} not found`;
        }
        rows.push([i === 0 ? name : '', cell]);
      });
    }
  } else if (mode === 'revnat') {
    rows.push([LB_LIST_TITLES.id, LB_LIST_TITLES.backendAddress]);
    for (const r of [...dump.revNat].sort((a, b) => a.id - b.id)) rows.push([String(r.id), `${r.address}:${r.port}`]);
  } else if (mode === 'backends') {
    rows.push([LB_LIST_TITLES.id, LB_LIST_TITLES.backendAddress]);
    // Cilium's Backend4ValueV3.String() prints no port: "TCP://10.0.0.20".
    for (const b of [...dump.backends].sort((a, b) => a.id - b.id)) rows.push([String(b.id), `${protoName(b.proto)}://${b.address}`]);
  } else {
    fail(`unknown lb list mode ${JSON.stringify(mode)}`);
  }
  const text = goTabwriter(rows);
  return opts.trimTrailingSpace ? text.replace(/ +$/gm, '') : text;
}

/**
 * One line per lb4_ct entry, in the spirit of `cilium bpf ct list global`:
 *   TCP SVC 10.0.0.10:40000 -> 10.96.0.10:80 backend=1 RevNAT=1 packets=3
 *   TCP OUT 10.0.0.10:40000 -> 10.0.0.20:8080 backend=1 RevNAT=1 packets=3
 * SVC = pre-DNAT (affinity) entry, OUT = post-DNAT entry used by the reverse NAT.
 */
export function formatCtList(entries: readonly CtEntry[]): string {
  const sorted = [...entries].sort(
    (a, b) =>
      ipToInt(a.key.saddr) - ipToInt(b.key.saddr) ||
      a.key.sport - b.key.sport ||
      b.key.flags - a.key.flags ||
      ipToInt(a.key.daddr) - ipToInt(b.key.daddr) ||
      a.key.dport - b.key.dport,
  );
  return sorted
    .map((e) => {
      const dir = e.key.flags === CT_SERVICE ? 'SVC' : e.key.flags === CT_EGRESS ? 'OUT' : `F${e.key.flags}`;
      return (
        `${protoName(e.key.nexthdr)} ${dir} ${e.key.saddr}:${e.key.sport} -> ${e.key.daddr}:${e.key.dport} ` +
        `backend=${e.value.backendId} RevNAT=${e.value.revNatIndex} packets=${e.value.packets}\n`
      );
    })
    .join('');
}
