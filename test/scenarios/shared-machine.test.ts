// Trust on a shared machine: the lab acts only on what it made, for the user who runs it.
// Decoys that merely look like a lab's survive `lab down --all`; a live run survives it; state
// planted by another user is never read by root; an unprivileged user runs UML labs after root
// has used the lab. Needs root (it creates decoy namespaces and switches to uid 65534).
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.join(import.meta.dirname, '..', '..');
const cli = path.join(root, 'lab', 'cli.ts');
const fixture = path.join(root, 'test', 'fixtures', 'good', 'eniip-noservices.yaml');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'dl-shared-'));
const lab = (args: string[], env: NodeJS.ProcessEnv = {}) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 300_000, env: { ...process.env, ...env } });
const randomId = () => Math.floor(Math.random() * 0xffffff).toString(16).padStart(6, '0');
const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

test.before((t) => {
  if (process.getuid?.() !== 0) t.fail('shared-machine tests need root: they make decoy namespaces and act as a second user');
});
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));

test.serial('decoys that only look like a lab survive down --all', async (t) => {
  const id = randomId();
  const ns = `dl-${id}-decoy`;
  const ctl = `/run/dl-${id}-decoy.ctl`;
  const pin = `/sys/fs/bpf/dl-${id}`;
  t.is(spawnSync('ip', ['netns', 'add', ns]).status, 0);
  const inside = spawn('ip', ['netns', 'exec', ns, 'sleep', '300'], { stdio: 'ignore', detached: true });
  writeFileSync(ctl, '');
  const bpffs = existsSync('/sys/fs/bpf') && spawnSync('mkdir', [pin]).status === 0;
  // A lab of ours that did run: its journal names its own things only.
  const state = path.join(tmp, 'decoy-state');
  try {
    const run = lab(['scenario', 'lite-slb', '--file', fixture, '--runner', 'native', '--keep'], { DL_STATE_DIR: state });
    t.is(run.status, 0, run.stderr);
    const d = lab(['down', '--all'], { DL_STATE_DIR: state });
    t.is(d.status, 0, d.stderr);
    t.regex(d.stdout, /took down lab [0-9a-f]{6}/);
    // (reports/ holds the saved report that `lab diagram` draws: not a lab, it stays.)
    t.deepEqual(readdirSync(state).filter((d) => d !== 'reports'), [], 'our lab folder is gone');
    t.true(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.includes(ns), 'the decoy namespace was removed');
    await new Promise((r) => setTimeout(r, 200));
    t.true(alive(inside.pid!), 'the process in the decoy namespace was killed');
    t.true(existsSync(ctl), 'the decoy control socket was removed');
    if (bpffs) t.true(existsSync(pin), 'the decoy bpffs folder was removed');
  } finally {
    try { process.kill(-inside.pid!, 'SIGKILL'); } catch { /* gone */ }
    spawnSync('ip', ['netns', 'delete', ns]);
    rmSync(ctl, { force: true });
    if (bpffs) rmSync(pin, { recursive: true, force: true });
  }
});

test.serial('a live run survives down --all and down ID without --force', async (t) => {
  const state = path.join(tmp, 'live-state');
  const c = spawn(process.execPath, [cli, 'scenario', 'lite-slb', '--file', fixture, '--runner', 'native', '--json'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DL_STATE_DIR: state } });
  let out = '';
  c.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  const done = new Promise<number | null>((r) => c.on('close', r));
  let labId: string | undefined;
  let agent: number | undefined;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && !agent) {
    labId ??= (existsSync(state) ? readdirSync(state) : []).map((d) => /^job-([0-9a-f]{6})$/.exec(d)?.[1]).find(Boolean);
    const journal = labId ? path.join(state, `job-${labId}`, 'journal') : undefined;
    const line = journal && existsSync(journal) ? readFileSync(journal, 'utf8').split('\n').find((l) => l.startsWith('agent\t')) : undefined;
    if (line) agent = Number(line.split('\t')[1]);
    await new Promise((r) => setTimeout(r, 10));
  }
  t.truthy(agent, 'the run never started its agent');
  // Hold the agent (its process group) so that the run is surely still going while down runs.
  process.kill(-agent!, 'SIGSTOP');
  try {
    const d = lab(['down', '--all'], { DL_STATE_DIR: state });
    t.is(d.status, 0, d.stderr);
    t.regex(d.stdout, new RegExp(`left lab ${labId} alone: its command \\(pid ${c.pid}\\) still runs`));
    t.regex(d.stdout, /took down no lab/);
    const one = lab(['down', labId!], { DL_STATE_DIR: state });
    t.is(one.status, 1, 'down of a lab whose command runs, without --force, is not done');
    const st = JSON.parse(lab(['status', '--json'], { DL_STATE_DIR: state }).stdout) as { labId: string; state: string }[];
    t.like(st.find((x) => x.labId === labId), { state: 'running' });
  } finally {
    process.kill(-agent!, 'SIGCONT');
  }
  t.is(await done, 0, out);
  t.true((JSON.parse(out) as { passed: boolean }).passed);
});

test.serial("another user's planted state is never read by root", (t) => {
  // The report's attack: a record in the old shared folder, naming a victim folder.
  const victim = path.join(tmp, 'victim');
  mkdirSync(victim);
  writeFileSync(path.join(victim, 'precious'), 'x');
  const shared = path.join(tmp, 'shared-tmp');
  mkdirSync(path.join(shared, 'datapath-lab', 'labs'), { recursive: true });
  const id = randomId();
  writeFileSync(path.join(shared, 'datapath-lab', 'labs', `${id}.json`), JSON.stringify({ labId: id, runner: 'native', jobDir: victim, objects: [{ object: 'a', kind: 'node', ns: `dl-${id}-a` }] }));
  mkdirSync(path.join(shared, 'datapath-lab', `job-${id}`));
  writeFileSync(path.join(shared, 'datapath-lab', `job-${id}`, 'journal'), `lab\t${id}\nbpffs\t${victim}\n`);
  spawnSync('chown', ['-R', '65534:65534', shared]);
  // Root, with that user's TMPDIR, and no DL_STATE_DIR: root's state is /run/datapath-lab.
  const env = { TMPDIR: shared, DL_STATE_DIR: '' };
  const d = lab(['down', id], env);
  t.is(d.status, 2, d.stderr);
  t.regex(d.stderr, new RegExp(`you have no lab ${id}`));
  const st = lab(['status'], env);
  t.is(st.status, 0, st.stderr);
  t.notRegex(st.stdout, new RegExp(id));
  t.true(existsSync(path.join(victim, 'precious')));
  // Root told to use the user's folder refuses it (owned by someone else).
  const r = lab(['down', '--all'], { DL_STATE_DIR: path.join(shared, 'datapath-lab') });
  t.is(r.status, 3, r.stderr);
  t.regex(r.stderr, /owned by uid 65534/);
  t.true(existsSync(path.join(victim, 'precious')));
});

test.serial('an unprivileged user runs a UML lab after root has used the lab', (t) => {
  const rootRun = lab(['scenario', 'lite-slb', '--file', fixture, '--runner', 'uml'], { DL_STATE_DIR: '' });
  t.is(rootRun.status, 0, rootRun.stderr);
  chmodSync(tmp, 0o711); // the second user must reach its home below
  const home = path.join(tmp, 'home-65534');
  mkdirSync(path.join(home, 'tmp'), { recursive: true, mode: 0o700 });
  chownSync(home, 65534, 65534);
  chownSync(path.join(home, 'tmp'), 65534, 65534);
  const env = { PATH: process.env.PATH!, HOME: home, TMPDIR: path.join(home, 'tmp') };
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, cli, 'scenario', 'lite-slb', '--file', fixture, '--runner', 'uml', '--json'], { encoding: 'utf8', env, timeout: 300_000 });
  t.is(r.status, 0, r.stderr);
  t.true((JSON.parse(r.stdout) as { passed: boolean }).passed);
  // Only the saved report (reports/, what `lab diagram` draws) may stay: no lab folder.
  t.deepEqual(readdirSync(path.join(home, '.local', 'state', 'datapath-lab')).filter((d) => d !== 'reports'), [], 'the run left its lab folder');
});
