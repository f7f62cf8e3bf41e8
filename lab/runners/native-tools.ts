// The lab's small compiled helpers, built from source (lab/runners/native/<name>.c) into .lab/
// when missing or older than their source — like the UML xstate shim:
//   dlcap     one capture process for a whole lab: a packet socket per namespace, one pcapng stream
//   dlsysctl  the sysctl files of every namespace written from one process
//   dlnsrun   many commands, each inside its namespace (setns, exec), from one process
//   dlnet     every namespace's `ip -batch` file applied from one process speaking rtnetlink
//   dlinit    the mounts at a UML guest's start and the summary and poweroff at its end (uml-init.sh)
//   dlpod     every pod server of a lab from one process (a socket per namespace, one epoll loop),
//             and the probe client, in the client's namespace by setns
//   dldown    a lab's teardown from one process: the journal's daemons, sockets, pin folders and
//             namespaces (with the processes inside), as the agent's teardown checked them
//   dlbird    BIRD's control socket spoken directly: every BGP wait of a build and every BIRD dump
//   dlbpf     the tc eBPF load balancer's whole set-up (every pod's load, pins, tc filters, the map
//             batch) and every bpf map dump of a probe, from one process each (libbpf)
//   dlipt     every `iptables-legacy-save -c` dump of a probe from one process (libip4tc, libxtables)
//   dlipvs    every namespace's IPVS table (`ipvsadm -R` lines) loaded from one process speaking
//             the kernel's IPVS generic netlink family
//   dlipset   every namespace's ipsets (`ipset restore` lines) from one process speaking nfnetlink
// The agent finds them in .lab/ (or next to itself in a container) and falls back to tcpdump,
// sysctl, `ip netns exec`, `ip -batch`, `ipvsadm -R` and socat when one is missing.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
// dlpod, dlnet, dlinit and dldown are linked statically: dlpod starts once per probe attempt, dlnet
// once per build, dlinit twice per guest and once per module request the kernel makes, dldown once
// per teardown, and a static binary starts in ~27 ms inside UML where a dynamic one needs ~38 (no
// loader, no libc mapping).
const LIBS: Record<NativeTool, string[]> = { dlcap: ['-lpcap'], dlsysctl: [], dlnsrun: [], dlinit: ['-static'], dlpod: ['-static'], dlnet: ['-static'], dldown: ['-static'], dlbird: ['-static'], dlbpf: ['-static', '-lbpf', '-lelf', '-lz'], dlipt: ['-lip4tc', '-lxtables'], dlipvs: ['-static'], dlipset: ['-static'] };
/** Development packages beyond gcc (for the build error). */
const NEEDS: Partial<Record<NativeTool, string>> = { dlcap: ' and libpcap-dev', dlbpf: ' and libbpf-dev', dlipt: ', libip4tc-dev and libxtables-dev' };
/** Sources beyond native/<name>.c (compiled together; a header makes the binary stale too). */
const EXTRA: Partial<Record<NativeTool, string[]>> = { dlpod: ['selfjournal.c', 'selfjournal.h'], dlcap: ['selfjournal.c', 'selfjournal.h'], dlnet: ['dlnet-lines.c', 'dlnet.h', 'sysctl-file.c', 'sysctl-file.h', 'nlmsg.c', 'nlmsg.h'], dlsysctl: ['sysctl-file.c', 'sysctl-file.h'], dlbpf: ['dlbpf-dump.c', 'dlbpf.h'], dlipvs: ['nlapply.c', 'nlapply.h', 'nlmsg.c', 'nlmsg.h'], dlipset: ['nlapply.c', 'nlapply.h', 'nlmsg.c', 'nlmsg.h'] };
export type NativeTool = 'dlcap' | 'dlsysctl' | 'dlnsrun' | 'dlinit' | 'dlpod' | 'dlnet' | 'dldown' | 'dlbird' | 'dlbpf' | 'dlipt' | 'dlipvs' | 'dlipset';
export const NATIVE_TOOLS: NativeTool[] = ['dlcap', 'dlsysctl', 'dlnsrun', 'dlinit', 'dlpod', 'dlnet', 'dldown', 'dlbird', 'dlbpf', 'dlipt', 'dlipvs', 'dlipset'];

export function nativeToolPath(name: NativeTool): string {
  return path.resolve(here, '../..', '.lab', name);
}

/** The path of an up-to-date binary, or why there is none (gcc, or libpcap-dev for dlcap, missing). */
export function ensureNativeTool(name: NativeTool): { path?: string; error?: string } {
  const src = path.join(here, 'native', `${name}.c`);
  const inputs = [src, ...(EXTRA[name] ?? []).map((f) => path.join(here, 'native', f))];
  const bin = nativeToolPath(name);
  if (existsSync(bin) && inputs.every((f) => statSync(bin).mtimeMs >= statSync(f).mtimeMs)) return { path: bin };
  const unfit = name === 'dlipt' ? iptablesUnlikeDlipt() : undefined;
  if (unfit) return { error: unfit };
  mkdirSync(path.dirname(bin), { recursive: true });
  // Built under a private name and renamed: concurrent runs never see a half-written binary.
  const tmp = `${bin}.${process.pid}.tmp`;
  try {
    execFileSync('gcc', ['-O2', '-Wall', '-o', tmp, ...inputs.filter((f) => f.endsWith('.c')), ...LIBS[name]], { stdio: 'pipe' });
    renameSync(tmp, bin);
    return { path: bin };
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    return { error: `cannot build ${path.relative(process.cwd(), src)} (needs gcc${NEEDS[name] ?? ''}): ${(err.stderr?.toString() || err.message).split('\n')[0]}` };
  }
}

/** dlipt prints what iptables-legacy-save 1.8.9 prints, and says so in its first line (its UML test
 *  holds it to that, byte for byte): with another iptables release (1.8.10 prints interfaces by
 *  name) it is not built, and the agent runs iptables-legacy-save itself. Checked when it is built. */
export const DLIPT_IPTABLES = 'iptables-save v1.8.9 (legacy)';
function iptablesUnlikeDlipt(): string | undefined {
  let v = '';
  try {
    v = execFileSync('iptables-legacy-save', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch { /* not installed: the agent's own path reports that */ }
  return v === DLIPT_IPTABLES ? undefined : `dlipt follows ${DLIPT_IPTABLES}; this machine has ${v || 'no iptables-legacy-save'}: iptables-legacy-save runs instead`;
}

/** Builds every helper that is stale; returns those that are available. */
export function ensureNativeTools(): Partial<Record<NativeTool, string>> {
  const out: Partial<Record<NativeTool, string>> = {};
  for (const t of NATIVE_TOOLS) {
    const r = ensureNativeTool(t);
    if (r.path) out[t] = r.path;
  }
  return out;
}

/** dlcap alone (tests). */
export function ensureDlcap(): { path?: string; error?: string } {
  return ensureNativeTool('dlcap');
}
