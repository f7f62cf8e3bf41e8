// Host tools the agent needs, and the Debian package that provides each: a missing tool is
// reported by name with its package, never discovered halfway through a build.
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { featureRecords } from '../features.ts';

/** Tools of every build and of the runners; a feature's own tools come from its record (lab/features.ts). */
const BASE_TOOL_PACKAGES: Record<string, string> = {
  ip: 'iproute2',
  tc: 'iproute2',
  tcpdump: 'tcpdump',
  socat: 'socat',
  conntrack: 'conntrack',
  'iptables-legacy-restore': 'iptables',
  sysctl: 'procps',
  nsenter: 'util-linux',
  timeout: 'coreutils',
  'linux.uml': 'user-mode-linux',
  modprobe: 'kmod',
  gcc: 'gcc',
};

export const TOOL_PACKAGES: Record<string, string> = {
  ...BASE_TOOL_PACKAGES,
  ...Object.fromEntries(featureRecords().flatMap((r) => Object.entries(r.tools ?? {}))),
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

/** Tools every build needs, plus those of the plan's features (their records' `tools`). */
export function toolsFor(features: Set<string>): string[] {
  const t = ['ip', 'tc', 'tcpdump', 'socat', 'conntrack', 'sysctl', 'timeout', 'nsenter'];
  for (const r of featureRecords()) {
    if (!features.has(r.name)) continue;
    for (const tool of Object.keys(r.tools ?? {})) if (!t.includes(tool)) t.push(tool);
  }
  return t;
}

export function missingTools(tools: string[]): { tool: string; pkg: string }[] {
  return tools.filter((t) => !which(t)).map((t) => ({ tool: t, pkg: TOOL_PACKAGES[t] ?? t }));
}

export function describeMissing(m: { tool: string; pkg: string }[]): string {
  const pkgs = [...new Set(m.map((x) => x.pkg))];
  return `missing ${m.map((x) => x.tool).join(', ')} — install with: apt-get install ${pkgs.join(' ')}`;
}
