// `lab down ID` and `lab down --all`: take down this user's labs by replaying their journals
// (lab/state/journal.ts) — and touch nothing else. No name matching over the machine: a dl-…
// namespace, a /run/dl-….ctl, a bpffs folder or a UML guest the journal does not name is not the
// lab's, whoever made it. `--all` takes the labs whose command is gone (killed runs, `lab up`
// labs); a lab whose command still runs is left alone unless --force.
import { spawnSync } from 'node:child_process';
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { LabError, EXIT } from './errors.ts';
import { AGENT } from './runners/native.ts';
import { lastProc, runnerOf, type Journal } from './state/journal.ts';
import { findLab, listLabDirs, removeLabDir, type LabEntry } from './state/labs.ts';
import { isRunning, signalRecorded, type RecordedProcess } from './state/proc.ts';

export interface DownResult {
  labs: string[]; // labs taken down
  skipped: { labId: string; why: string }[];
  namespaces: number;
  umlGuests: number;
  containers: number;
  jobDirs: number;
  problems: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitGone(p: RecordedProcess, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (isRunning(p) && Date.now() < end) await sleep(100);
  return !isRunning(p);
}

/** Stops a recorded process: TERM (it cleans up), then KILL; its process group too when it leads one. */
async function stop(p: RecordedProcess, graceMs: number, group: boolean): Promise<void> {
  if (!isRunning(p)) return;
  const sig = (s: NodeJS.Signals) => {
    if (!isRunning(p)) return;
    try { process.kill(group ? -p.pid : p.pid, s); } catch { signalRecorded(p, s); }
  };
  sig('SIGTERM');
  if (await waitGone(p, graceMs)) return;
  sig('SIGKILL');
  await waitGone(p, 2000);
}

/** Asks a `lab up` guest's serve loop to tear down (ctl/<id>.req "down"), bounded. */
async function askGuestDown(dir: string, guest: RecordedProcess): Promise<void> {
  const ctl = path.join(dir, 'ctl');
  if (!existsSync(ctl)) return;
  const id = `down-${process.pid}-${Date.now()}`;
  try {
    writeFileSync(path.join(ctl, `${id}.tmp`), 'down');
    renameSync(path.join(ctl, `${id}.tmp`), path.join(ctl, `${id}.req`));
  } catch {
    return; // a full disk: the forceful path follows
  }
  const end = Date.now() + 30_000;
  while (isRunning(guest) && Date.now() < end && !existsSync(path.join(ctl, `${id}.rc`))) await sleep(200);
  await waitGone(guest, 10_000);
}

const liveNamespaces = (j: Journal) => j.entries.filter((e) => e.kind === 'netns' && existsSync(`/run/netns/${e.name}`)).length;

/** Takes one lab down by its journal; returns what went, or throws when it cannot. */
export async function takeDown(e: LabEntry): Promise<{ namespaces: number; umlGuests: number; containers: number }> {
  const j = e.journal;
  const res = { namespaces: 0, umlGuests: 0, containers: 0 };
  const runner = runnerOf(j);
  const guest = lastProc(j, 'guest');
  if (guest && isRunning(guest)) {
    // Everything the guest made lives in its kernel and dies with it.
    if (e.record?.mode === 'up') await askGuestDown(e.dir, guest);
    await stop(guest, 5000, true);
    res.umlGuests++;
  }
  for (const c of j.entries) {
    if (c.kind !== 'container') continue;
    // The container removes itself when stopped (AutoRemove); `docker rm -f` for a killed run.
    const r = spawnSync('docker', ['rm', '-f', c.name], { stdio: 'ignore', timeout: 60_000 });
    if (r.status === 0) res.containers++;
  }
  if (runner === 'native' || (runner === undefined && j.entries.some((x) => x.kind === 'netns'))) {
    // An agent whose command was killed runs on: TERM lets it tear down itself (its EXIT trap).
    // What down removes counts from here: the agent's own teardown (after TERM) removes most of it.
    const before = liveNamespaces(j);
    const agent = lastProc(j, 'agent');
    if (agent) await stop(agent, 10_000, false);
    res.namespaces = liveNamespaces(j);
    if (res.namespaces && process.getuid?.() !== 0) throw new LabError(`lab ${e.labId} has ${res.namespaces} namespace(s) on the host kernel: removing them needs root`, EXIT.noRunner);
    // The agent's teardown replays the kernel-side journal lines (namespaces, daemons, sockets, pins).
    const t = spawnSync('bash', [AGENT, e.dir, 'teardown'], { encoding: 'utf8', timeout: 120_000 });
    if (t.status !== 0) throw new LabError(`the teardown of lab ${e.labId} failed: ${(t.stderr || t.error?.message || '').trim()}`, EXIT.infra);
    const left = liveNamespaces(j);
    if (left) throw new LabError(`lab ${e.labId}: ${left} namespace(s) are still there after its teardown`, EXIT.infra);
    res.namespaces = before;
  }
  removeLabDir(e.labId);
  return res;
}

/** Why a lab is left alone by `down` without --force, or undefined. */
export function busy(e: LabEntry): string | undefined {
  const owner = lastProc(e.journal, 'owner');
  if (owner && owner.pid !== process.pid && isRunning(owner)) return `its command (pid ${owner.pid}) still runs: stop it, or lab down --force`;
  return undefined;
}

export async function down(opts: { labId?: string; force?: boolean }): Promise<DownResult> {
  const res: DownResult = { labs: [], skipped: [], namespaces: 0, umlGuests: 0, containers: 0, jobDirs: 0, problems: [] };
  let labs: LabEntry[];
  if (opts.labId) {
    const e = findLab(opts.labId);
    if (!e) throw new LabError(`you have no lab ${opts.labId} (lab status lists yours)`, EXIT.usage);
    labs = [e];
  } else {
    const all = listLabDirs();
    labs = all.labs;
    for (const s of all.strays) res.problems.push(`${s}: not a lab folder, left alone`);
  }
  for (const e of labs) {
    for (const p of e.journal.problems) res.problems.push(`lab ${e.labId}: ${p}`);
    const why = opts.force ? undefined : busy(e);
    if (why) {
      res.skipped.push({ labId: e.labId, why });
      continue;
    }
    const r = await takeDown(e);
    res.labs.push(e.labId);
    res.namespaces += r.namespaces;
    res.umlGuests += r.umlGuests;
    res.containers += r.containers;
    res.jobDirs++;
  }
  return res;
}

export function renderDown(r: DownResult): string {
  const lines = [`took down ${r.labs.length ? `lab ${r.labs.join(', ')}` : 'no lab'}: removed ${r.namespaces} namespace(s), ${r.umlGuests} UML guest(s), ${r.containers} container(s), ${r.jobDirs} lab folder(s)`];
  for (const s of r.skipped) lines.push(`left lab ${s.labId} alone: ${s.why}`);
  for (const p of r.problems) lines.push(`problem: ${p}`);
  return lines.join('\n') + '\n';
}
