// Host tools the agent needs, and the Debian package that provides each: a missing tool is
// reported by name with its package, never discovered halfway through a build.
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

export const TOOL_PACKAGES: Record<string, string> = {
  ip: 'iproute2',
  tc: 'iproute2',
  tcpdump: 'tcpdump',
  socat: 'socat',
  conntrack: 'conntrack',
  ipvsadm: 'ipvsadm',
  ipset: 'ipset',
  'iptables-restore': 'iptables',
  'iptables-legacy-restore': 'iptables',
  sysctl: 'procps',
  nsenter: 'util-linux',
  timeout: 'coreutils',
  bpftool: 'bpftool',
  clang: 'clang',
  bird: 'bird2',
  birdc: 'bird2',
  'linux.uml': 'user-mode-linux',
  modprobe: 'kmod',
  gcc: 'gcc',
};

const SEARCH = (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin', '/usr/bin', '/bin']);

export function which(tool: string): string | undefined {
  for (const dir of SEARCH) {
    if (!dir) continue;
    const f = path.join(dir, tool);
    try {
      accessSync(f, constants.X_OK);
      return f;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** Tools every build needs, plus those implied by the plan's features. */
export function toolsFor(features: Set<string>): string[] {
  const t = ['ip', 'tc', 'tcpdump', 'socat', 'conntrack', 'sysctl', 'timeout', 'nsenter'];
  if (features.has('ipvs')) t.push('ipvsadm');
  if (features.has('ipset')) t.push('ipset');
  if (features.has('iptables')) t.push('iptables-restore');
  if (features.has('bpf')) t.push('bpftool', 'clang');
  if (features.has('bgp')) t.push('bird', 'birdc');
  return t;
}

export function missingTools(tools: string[]): { tool: string; pkg: string }[] {
  return tools.filter((t) => !which(t)).map((t) => ({ tool: t, pkg: TOOL_PACKAGES[t] ?? t }));
}

export function describeMissing(m: { tool: string; pkg: string }[]): string {
  const pkgs = [...new Set(m.map((x) => x.pkg))];
  return `missing ${m.map((x) => x.tool).join(', ')} — install with: apt-get install ${pkgs.join(' ')}`;
}
