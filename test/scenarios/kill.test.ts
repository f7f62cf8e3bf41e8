// Cleanup under faults: runs are SIGKILLed — CLI, agent and UML guest alike — at a point in the
// build, the probes or the teardown, on the native and the UML runner; `lab down <labid>` must
// then leave the host exactly as it was: links, addresses, routes, rules, iptables and nft,
// namespaces, mounts, processes. (Not `down --all`: other test files run labs at the same time.)
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { ensureNativeTool } from '../../lab/runners/native-tools.ts';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';

const root = path.join(import.meta.dirname, '..', '..');
const cli = path.join(root, 'lab', 'cli.ts');
const fixture = path.join(root, 'test', 'fixtures', 'good', 'eniip-noservices.yaml');
const sh = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'utf8' }).stdout ?? '';

/** The root namespace and host state a lab must never change. */
function hostState() {
  return {
    links: sh('ip', ['-o', 'link', 'show']).replace(/\s+(qlen|state|mode)\s+\S+/g, ''),
    addrs: sh('ip', ['-o', 'addr', 'show']).replace(/valid_lft \S+ preferred_lft \S+/g, ''),
    routes: sh('ip', ['route', 'show', 'table', 'all']),
    rules: sh('ip', ['rule', 'show']),
    iptables: sh('iptables-save', []).replace(/^#.*$/gm, '').replace(/\[\d+:\d+\]/g, ''),
    nft: sh('nft', ['list', 'ruleset']),
    // Mounts a lab could leave: namespace files, bpffs pins, job directories.
    mounts: readFileSync('/proc/mounts', 'utf8').split('\n').filter((l) => /\/run\/netns|\/sys\/fs\/bpf|datapath-lab/.test(l))
      // Namespaces of other runs and tests come and go meanwhile (any name): theirs. This lab's
      // own namespace mounts are checked by name after the down.
      .filter((l) => !/^nsfs \/run\/netns\//.test(l)).sort().join('\n'),
  };
}
const labNs = (labId: string) => sh('ip', ['netns', 'list']).split('\n').filter((l) => l.startsWith(`dl-${labId}-`));
const labProcs = (labId: string) => sh('pgrep', ['-af', `job-${labId}|dl-${labId}-|umid=dl-${labId}`]).split('\n').filter((l) => l && !l.includes('pgrep') && !l.includes('kill.test'));

// A state directory of this file's own: other test files' jobs appear meanwhile and must never be
// mistaken for ours (the kill would hit their runs).
const stateDir = mkdtempSync(path.join(os.tmpdir(), 'dl-kill-test-'));
const env = { ...process.env, DL_STATE_DIR: stateDir };
const jobs = () => (existsSync(stateDir) ? readdirSync(stateDir).filter((d) => d.startsWith('job-')) : []);
test.after.always(() => rmSync(stateDir, { recursive: true, force: true }));

// The teardown is one dldown process that takes milliseconds: a kill aimed at it would land after
// the run is over. For that marker the agent gets (DL_DLDOWN, its override of the helper) a dldown
// that waits a second first, so the kill lands inside the teardown.
function slowTeardownEnv(): NodeJS.ProcessEnv {
  const real = ensureNativeTool('dldown').path;
  if (!real) throw new Error('cannot build dldown');
  const wrapper = path.join(stateDir, 'slow-dldown');
  writeFileSync(wrapper, `#!/bin/sh\nsleep 1\nexec ${real} "$@"\n`, { mode: 0o755 });
  return { ...env, DL_DLDOWN: wrapper };
}

async function killAt(t: import('ava').ExecutionContext, runner: 'native' | 'uml', marker: 'build-start' | 'captures-ready' | 'teardown-start') {
  const before = hostState();
  const jobsBefore = new Set(jobs());
  const c = spawn(process.execPath, [cli, 'scenario', 'lite-slb', '--file', fixture, '--runner', runner], { stdio: 'ignore', detached: true, env: marker === 'teardown-start' ? slowTeardownEnv() : env });
  let job: string | undefined;
  let seen = false;
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && !seen) {
    job ??= jobs().find((j) => !jobsBefore.has(j));
    const ev = job ? path.join(stateDir, job, 'out', 'events.tsv') : undefined;
    seen = !!ev && existsSync(ev) && readFileSync(ev, 'utf8').includes(`\t${marker}`);
    if (!seen) await new Promise((r) => setTimeout(r, 2));
  }
  t.truthy(job, 'the run never wrote its job directory');
  // The kill must land while the run is at the marker, or the test proves nothing.
  t.true(seen, `the run was never seen at ${marker}`);
  const labId = /^job-([0-9a-f]{6})$/.exec(job!)![1]!;
  // Everything the run started dies at once: the CLI's group, the agent's, the UML guest's.
  for (const pid of sh('pgrep', ['-f', `job-${labId}|umid=dl-${labId}`]).split('\n').filter(Boolean).map(Number)) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  try { process.kill(-c.pid!, 'SIGKILL'); } catch { /* gone */ }
  await new Promise((r) => setTimeout(r, 300));
  const d = spawnSync(process.execPath, [cli, 'down', labId], { encoding: 'utf8', env });
  t.is(d.status, 0, d.stderr);
  t.deepEqual(labNs(labId), [], 'namespaces left');
  t.false(readFileSync('/proc/mounts', 'utf8').includes(`dl-${labId}-`), 'namespace mounts left');
  t.deepEqual(labProcs(labId), [], 'processes left');
  t.false(jobs().includes(job!), 'job directory left');
  const after = hostState();
  for (const k of Object.keys(before) as (keyof typeof before)[]) t.is(after[k], before[k], `host ${k} changed`);
}

test.before((t) => {
  if (process.getuid?.() !== 0) t.fail('these tests need root: they compare the host state around native runs');
});

for (const runner of ['native', 'uml'] as const) {
  for (const marker of ['build-start', 'captures-ready', 'teardown-start'] as const) {
    test.serial(`${runner}: SIGKILL at ${marker}, then down restores the host`, async (t) => {
      await killAt(t, runner, marker);
    });
  }
}

// A full disk: the lab's state on a small tmpfs (root only). Nothing may be built when the journal
// cannot be written; a run whose disk fills up mid-way, then SIGKILLed, is still fully removed by
// `lab down` (the teardown writes nothing).
function smallDisk(t: import('ava').ExecutionContext): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dl-full-'));
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0700', 'tmpfs', dir], { encoding: 'utf8' });
  t.is(m.status, 0, `cannot mount a small tmpfs: ${m.stderr}`);
  t.teardown(() => {
    spawnSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}
const fill = (dir: string) => spawnSync('dd', ['if=/dev/zero', `of=${path.join(dir, 'filler')}`, 'bs=64k'], { stdio: 'ignore' });

test.serial('native: a full disk before the run: exit 4, nothing built, nothing left', (t) => {
  const dir = smallDisk(t);
  fill(dir);
  const r = spawnSync(process.execPath, [cli, 'scenario', 'lite-slb', '--file', fixture, '--runner', 'native'], { encoding: 'utf8', env: { ...process.env, DL_STATE_DIR: dir } });
  t.is(r.status, 4, r.stderr + r.stdout);
  t.regex(r.stderr, /cannot (write the lab's journal|write the job|create the lab folder).*(ENOSPC|no space)/i);
  t.deepEqual(readdirSync(dir), ['filler'], 'a lab folder was left');
  // The message names the lab (its folder): none of its namespaces exists. (Other runs on the
  // machine build theirs meanwhile.)
  const labId = /job-([0-9a-f]{6})/.exec(r.stderr)?.[1];
  t.truthy(labId, r.stderr);
  t.deepEqual(labNs(labId!), [], 'namespaces were built');
});

test.serial('native: the disk fills up mid-run, the run is SIGKILLed, then down restores the host', async (t) => {
  const dir = smallDisk(t);
  const before = hostState();
  const c = spawn(process.execPath, [cli, 'scenario', 'lite-slb', '--file', fixture, '--runner', 'native'], { stdio: 'ignore', detached: true, env: { ...process.env, DL_STATE_DIR: dir } });
  let job: string | undefined;
  let seen = false;
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && !seen) {
    job ??= readdirSync(dir).find((j) => j.startsWith('job-'));
    const ev = job ? path.join(dir, job, 'out', 'events.tsv') : undefined;
    seen = !!ev && existsSync(ev) && readFileSync(ev, 'utf8').includes('\tcaptures-ready');
    if (!seen) await new Promise((r) => setTimeout(r, 2));
  }
  t.true(seen, 'the run was never seen at captures-ready');
  fill(dir);
  const labId = /^job-([0-9a-f]{6})$/.exec(job!)![1]!;
  for (const pid of sh('pgrep', ['-f', `job-${labId}`]).split('\n').filter(Boolean).map(Number)) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  try { process.kill(-c.pid!, 'SIGKILL'); } catch { /* gone */ }
  await new Promise((r) => setTimeout(r, 300));
  t.true(labNs(labId).length > 0, 'the kill came too late: nothing was left to remove');
  const d = spawnSync(process.execPath, [cli, 'down', labId], { encoding: 'utf8', env: { ...process.env, DL_STATE_DIR: dir } });
  t.is(d.status, 0, d.stderr);
  t.deepEqual(labNs(labId), [], 'namespaces left');
  t.deepEqual(labProcs(labId), [], 'processes left');
  t.deepEqual(readdirSync(dir), ['filler'], 'the lab folder was left');
  const after = hostState();
  for (const k of Object.keys(before) as (keyof typeof before)[]) t.is(after[k], before[k], `host ${k} changed`);
});

// `lab test` boots one UML guest per worker and hands it job after job. When the CLI is killed
// the guest lives on (its own process group): each job's journal names it (pid and start time),
// so `lab down <labid>` stops it.
test.serial('uml: lab test SIGKILLed while its guest runs a scenario, then down stops the guest', async (t) => {
  const jobsBefore = new Set(jobs());
  const c = spawn(process.execPath, [cli, 'test', '--file', fixture, '--match', 'lite-slb', '-j', '1', '--runner', 'uml', '--reporter', 'tap'], { stdio: 'ignore', detached: true, env });
  let job: string | undefined;
  let guest: { pid: number; start: string } | undefined;
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && !guest) {
    job ??= jobs().find((j) => !jobsBefore.has(j));
    const journal = job ? path.join(stateDir, job, 'journal') : undefined;
    const m = journal && existsSync(journal) ? /^guest\t(\d+)\t(\d+)$/m.exec(readFileSync(journal, 'utf8')) : null;
    if (m) guest = { pid: Number(m[1]), start: m[2]! };
    else await new Promise((r) => setTimeout(r, 10));
  }
  t.truthy(guest, 'no job journal named the guest');
  const startOf = (pid: number) => {
    try { return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[19]; } catch { return undefined; }
  };
  try { process.kill(-c.pid!, 'SIGKILL'); } catch { /* gone */ }
  await new Promise((r) => setTimeout(r, 300));
  t.is(startOf(guest!.pid), guest!.start, 'the guest should outlive the killed CLI (else this test proves nothing)');
  const labId = /^job-([0-9a-f]{6})$/.exec(job!)![1]!;
  const d = spawnSync(process.execPath, [cli, 'down', labId], { encoding: 'utf8', env });
  t.is(d.status, 0, d.stderr);
  for (let i = 0; i < 100 && startOf(guest!.pid) === guest!.start; i++) await new Promise((r) => setTimeout(r, 100));
  t.not(startOf(guest!.pid), guest!.start, 'the guest still runs after down');
  t.false(jobs().includes(job!), 'job directory left');
});
