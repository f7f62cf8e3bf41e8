// Evidence: the agent's `bpf` dump of a node — the tc eBPF load balancer's maps, one
// `# <map name>` line before each `bpftool -j map dump` output — decoded into service entries.
import { parseLbMapsDump, type LbMapsDump } from '../services/ebpf/maps.ts';

/** Parses the agent's `bpf` dump (three `bpftool -j map dump` outputs) into the decoded maps. */
export function parseBpfDump(text: string): LbMapsDump {
  const sections = new Map<string, string>();
  let cur: string | undefined;
  for (const line of text.split('\n')) {
    const h = /^# (\S+)$/.exec(line);
    if (h) {
      cur = h[1]!;
      sections.set(cur, '');
    } else if (cur) sections.set(cur, sections.get(cur)! + line + '\n');
  }
  const need = (m: string) => {
    const s = sections.get(m);
    if (s === undefined) throw new Error(`no dump of ${m}`);
    return s;
  };
  return parseLbMapsDump({ services: need('lb4_services_v2'), backends: need('lb4_backends'), revNat: need('lb4_reverse_nat') });
}
