// `lab down --all`: removes whatever a killed run left behind — lab namespaces (dl-*) and the
// processes inside them, UML guests started by the lab, job directories. It touches nothing
// that does not carry the lab's marks (namespace prefix, umid prefix, state directory).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { NS_PREFIX } from './names.ts';
import { stateRoot } from './runners/job.ts';
import { downLab, listLabs } from './interactive.ts';

export interface DownResult {
  labs: string[]; // labs left up by `lab up`, taken down gracefully
  namespaces: string[];
  processes: number[];
  umlGuests: number[];
  jobDirs: string[];
}

function labNamespaces(labId?: string): string[] {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (r.status !== 0) return [];
  return r.stdout.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(labId ? `${NS_PREFIX}${labId}-` : NS_PREFIX));
}

function umlGuests(labId?: string): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (path.basename(cmd[0] ?? '') === 'linux.uml' && cmd.some((a) => a.startsWith(labId ? `umid=dl-${labId}` : 'umid=dl-'))) pids.push(Number(d));
    } catch { /* gone */ }
  }
  return pids;
}

/** Agent processes (lab/runners/agent.sh) working on a job of this lab (or of any lab). */
function agents(labId?: string): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (cmd.some((a) => a.endsWith('/agent.sh')) && cmd.some((a) => a.includes(labId ? `/job-${labId}-` : '/job-'))) pids.push(Number(d));
    } catch { /* gone */ }
  }
  return pids;
}

export async function down(labId?: string): Promise<DownResult> {
  const res: DownResult = { labs: [], namespaces: [], processes: [], umlGuests: [], jobDirs: [] };
  // Labs left up on purpose (`lab up`): take them down gracefully first.
  for (const s of listLabs().filter((x) => !labId || x.labId === labId)) {
    await downLab(s);
    res.labs.push(s.labId);
  }
  // UML guests first: their namespaces live inside them and vanish with them.
  for (const pid of umlGuests(labId)) {
    try {
      process.kill(pid, 'SIGTERM');
      res.umlGuests.push(pid);
    } catch { /* gone */ }
  }
  if (res.umlGuests.length) {
    spawnSync('sleep', ['1']);
    for (const pid of umlGuests(labId)) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
  // Agents of killed CLIs run on in the root namespace (their own process group): stop them
  // before removing what they build, or they would go on building into a lab being removed.
  for (const pid of agents(labId)) {
    try {
      process.kill(pid, 'SIGKILL');
      res.processes.push(pid);
    } catch { /* gone */ }
  }
  const nss = labNamespaces(labId);
  if (nss.length && process.getuid?.() !== 0) throw new Error(`lab namespaces exist (${nss.join(', ')}) but removing them needs root`);
  for (const ns of nss) {
    const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number);
    for (const pid of pids) try { process.kill(pid, 'SIGKILL'); res.processes.push(pid); } catch { /* gone */ }
  }
  if (nss.length) {
    execFileSync('ip', ['-force', '-batch', '-'], { input: nss.map((n) => `netns delete ${n}\n`).join(''), stdio: ['pipe', 'ignore', 'ignore'] });
    res.namespaces = nss;
  }
  // Control sockets of the labs' routing daemons (BIRD: /run/<namespace>.ctl, native runs only).
  const sockPrefix = labId ? `${NS_PREFIX}${labId}-` : NS_PREFIX;
  for (const f of existsSync('/run') ? readdirSync('/run') : []) {
    if (f.startsWith(sockPrefix) && f.endsWith('.ctl')) rmSync(path.join('/run', f), { force: true });
  }
  // Pins of the labs' eBPF load balancers (serviceProxy ebpf): /sys/fs/bpf/dl-<labid>, native runs only.
  try {
    for (const f of readdirSync('/sys/fs/bpf')) {
      if (labId ? f === `${NS_PREFIX}${labId}` : /^dl-[0-9a-f]{6}$/.test(f)) rmSync(path.join('/sys/fs/bpf', f), { recursive: true, force: true });
    }
  } catch { /* no bpffs here */ }
  const root = stateRoot();
  if (existsSync(root)) {
    for (const d of readdirSync(root)) {
      if (!d.startsWith(labId ? `job-${labId}-` : 'job-')) continue;
      // Jobs of labs still up belong to them (another lab id): only the selection is removed.
      rmSync(path.join(root, d), { recursive: true, force: true });
      res.jobDirs.push(d);
    }
  }
  return res;
}
