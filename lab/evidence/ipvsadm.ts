// Evidence: parses a namespace's IPVS table, as the agent dumps it — either `ipvsadm -Ln`, or the
// kernel's own /proc/net/ip_vs (read without a process start; ip_vs_ctl.c ip_vs_info_seq_show:
// "TCP  0A000005:0050 rr " and "  -> 0A000326:0050      Masq    1      0          0", addresses
// and ports in hex, the same services, real servers, forwarding methods, weights and connection
// counts as ipvsadm prints: https://github.com/torvalds/linux/blob/v6.1/net/netfilter/ipvs/ip_vs_ctl.c).
// The kernel prints a persistent service's timeout there in jiffies (svc->timeout = seconds × HZ),
// which only the kernel's HZ turns into seconds, so the agent dumps a table holding one with
// ipvsadm instead (lab/runners/agent/probe.sh, ipvs_proc_recheck); a /proc line is never read as
// seconds here.

export interface IpvsService {
  proto: string;
  vip: string;
  port: number;
  scheduler: string;
  /** "persistent N" in ipvsadm -Ln: sessionAffinity ClientIP's timeout in seconds (kube-proxy sets FlagPersistent). */
  persistent?: number;
  backends: { ip: string; port: number; forward: string; weight: number; active: number; inactive: number }[];
  /** The service and its real servers, one line each, in ipvsadm -Ln's layout (from /proc: decoded). */
  raw: string;
}

const ADM_SVC = /^(TCP|UDP|SCTP)\s+(\d+\.\d+\.\d+\.\d+):(\d+)\s+(\S+)(?:\s+persistent\s+(\d+))?/;
const ADM_DEST = /^\s+->\s+(\d+\.\d+\.\d+\.\d+):(\d+)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)/;
const PROC_SVC = /^(TCP|UDP|SCTP)\s+([0-9A-F]{8}):([0-9A-F]{4})\s+(\S+)/;
const PROC_DEST = /^\s+->\s+([0-9A-F]{8}):([0-9A-F]{4})\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)/;

/** "0A000326" (the kernel's %08X of the host-order address) → "10.0.3.38". */
function hexIPv4(h: string): string {
  const n = parseInt(h, 16);
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function parseIpvsadm(text: string): IpvsService[] {
  const out: IpvsService[] = [];
  let cur: IpvsService | undefined;
  // A real server; its raw line is ipvsadm's own (trimmed), or from /proc the same fields in
  // ipvsadm's columns ("  -> %-28s %-7s %-6d %-10d %-10d").
  const dest = (cur: IpvsService, ip: string, port: number, m: RegExpExecArray, admLine?: string) => {
    const b = { ip, port, forward: m[3]!, weight: Number(m[4]), active: Number(m[5]), inactive: Number(m[6]) };
    cur.backends.push(b);
    cur.raw += '\n' + (admLine ?? `-> ${`${b.ip}:${b.port}`.padEnd(28)} ${b.forward.padEnd(7)} ${String(b.weight).padEnd(6)} ${String(b.active).padEnd(10)} ${b.inactive}`);
  };
  for (const line of text.split('\n')) {
    let m = ADM_SVC.exec(line);
    if (m) {
      cur = { proto: m[1]!, vip: m[2]!, port: Number(m[3]), scheduler: m[4]!, ...(m[5] ? { persistent: Number(m[5]) } : {}), backends: [], raw: line.trim() };
      out.push(cur);
      continue;
    }
    m = PROC_SVC.exec(line);
    if (m) {
      cur = { proto: m[1]!, vip: hexIPv4(m[2]!), port: parseInt(m[3]!, 16), scheduler: m[4]!, backends: [], raw: '' };
      cur.raw = `${cur.proto}  ${cur.vip}:${cur.port} ${cur.scheduler}`;
      out.push(cur);
      continue;
    }
    if (!cur) continue;
    if ((m = ADM_DEST.exec(line))) dest(cur, m[1]!, Number(m[2]), m, line.trim());
    else if ((m = PROC_DEST.exec(line))) dest(cur, hexIPv4(m[1]!), parseInt(m[2]!, 16), m);
  }
  return out;
}
