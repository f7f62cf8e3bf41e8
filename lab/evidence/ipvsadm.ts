// Evidence: parses `ipvsadm -Ln` (the agent's IPVS dump of a namespace).

export interface IpvsService {
  proto: string;
  vip: string;
  port: number;
  scheduler: string;
  /** "persistent N": sessionAffinity ClientIP's timeout (kube-proxy sets FlagPersistent). */
  persistent?: number;
  backends: { ip: string; port: number; forward: string; weight: number; active: number; inactive: number }[];
  raw: string;
}

export function parseIpvsadm(text: string): IpvsService[] {
  const out: IpvsService[] = [];
  let cur: IpvsService | undefined;
  for (const line of text.split('\n')) {
    const s = /^(TCP|UDP|SCTP)\s+(\d+\.\d+\.\d+\.\d+):(\d+)\s+(\S+)(?:\s+persistent\s+(\d+))?/.exec(line);
    if (s) {
      cur = { proto: s[1]!, vip: s[2]!, port: Number(s[3]), scheduler: s[4]!, ...(s[5] ? { persistent: Number(s[5]) } : {}), backends: [], raw: line.trim() };
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
