// Private state: where each user's labs are recorded, the StrictModes-like refusal of a folder
// someone else could control, and the journal's validation — nothing read from state names a
// path to delete or a process to signal without a check.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseEntry, readJournal } from '../../lab/state/journal.ts';
import { isRunning, procStartTime } from '../../lab/state/proc.ts';

const root = path.join(import.meta.dirname, '..', '..');
const cli = path.join(root, 'lab', 'cli.ts');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'dl-state-test-'));
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));
const lab = (args: string[], env: NodeJS.ProcessEnv) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
const rootfn = (code: string, env: NodeJS.ProcessEnv) => spawnSync(process.execPath, ['-e', `import('${path.join(root, 'lab', 'state', 'dir.ts')}').then((m) => console.log(${code}))`], { encoding: 'utf8', env });

test('state folder: DL_STATE_DIR, else /run for root, else XDG_RUNTIME_DIR, else ~/.local/state', (t) => {
  const base = { PATH: process.env.PATH!, HOME: '/home/someone' };
  t.is(rootfn('m.stateRoot()', { ...base, DL_STATE_DIR: '/x/y' }).stdout.trim(), '/x/y');
  if (process.getuid?.() === 0) t.is(rootfn('m.stateRoot()', base).stdout.trim(), '/run/datapath-lab');
  const asUser = (env: NodeJS.ProcessEnv) => spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', `import('${path.join(root, 'lab', 'state', 'dir.ts')}').then((m) => console.log(m.stateRoot()))`], { encoding: 'utf8', env });
  if (process.getuid?.() === 0) {
    t.is(asUser({ ...base, XDG_RUNTIME_DIR: '/run/user/65534' }).stdout.trim(), '/run/user/65534/datapath-lab');
    t.is(asUser(base).stdout.trim(), '/home/someone/.local/state/datapath-lab');
  }
});

test('a state folder that is not safely yours is refused with exit 3, saying why', (t) => {
  const cases: [string, () => string, RegExp][] = [
    ['symlink', () => { const d = path.join(tmp, 'real'); mkdirSync(d, { mode: 0o700 }); const l = path.join(tmp, 'link'); symlinkSync(d, l); return l; }, /symbolic link/],
    ['group-writable', () => { const d = path.join(tmp, 'gw'); mkdirSync(d); chmodSync(d, 0o770); return d; }, /writable by its group/],
    ['world-writable', () => { const d = path.join(tmp, 'ww'); mkdirSync(d); chmodSync(d, 0o777); return d; }, /writable by everyone/],
    ['a file', () => { const f = path.join(tmp, 'file'); writeFileSync(f, ''); return f; }, /not a directory/],
  ];
  if (process.getuid?.() === 0) cases.push(['owned by another user', () => { const d = path.join(tmp, 'other'); mkdirSync(d, { mode: 0o700 }); chownSync(d, 65534, 65534); return d; }, /owned by uid 65534/]);
  for (const [what, make, why] of cases) {
    const dir = make();
    for (const verb of [['status'], ['down', '--all'], ['scenario', 'lite-slb', '--file', path.join(root, 'test/fixtures/good/eniip-noservices.yaml'), '--runner', 'uml']]) {
      const r = lab(verb, { DL_STATE_DIR: dir });
      t.is(r.status, 3, `${what}, ${verb[0]}: ${r.stderr}`);
      t.regex(r.stderr, why, what);
      t.regex(r.stderr, /refusing the lab state folder/);
      t.notRegex(r.stderr, /\n\s+at /, 'a stack trace');
    }
  }
});

test('status creates nothing; a new state folder is created 0700', (t) => {
  const dir = path.join(tmp, 'fresh', 'state');
  const r = lab(['status'], { DL_STATE_DIR: dir });
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /no lab is up/);
  t.false(existsSync(dir));
  t.is(rootfn('m.ensureStateDir()', { PATH: process.env.PATH!, DL_STATE_DIR: dir }).stdout.trim(), dir);
  t.is(spawnSync('stat', ['-c', '%a', dir], { encoding: 'utf8' }).stdout.trim(), '700');
});

test('journal lines naming anything outside the lab are reported, never acted on', (t) => {
  const id = 'abcdef';
  for (const bad of [
    'netns\tdl-123456-x', 'netns\t../../proc/1/ns/net', 'netns\tdl-abcdef-../../x', 'ctl\t/etc/passwd', 'ctl\t/run/dl-abcdef-x/../../etc.ctl',
    'bpffs\t/sys/fs/bpf/dl-abcdef/../other', 'bpffs\t/', 'bpffs\t/sys/fs/bpf/dl-abcdeff', 'guest\t1\t0', 'guest\t$(id)\t1', 'owner\t12\t', 'lab\t123456',
    'container\tother', 'rm\t-rf\t/', 'agent\t99999999999\t1',
  ]) t.is(typeof parseEntry(bad, id), 'string', bad);
  t.deepEqual(parseEntry('netns\tdl-abcdef-ecs1', id), { kind: 'netns', name: 'dl-abcdef-ecs1' });
  t.deepEqual(parseEntry('ctl\t/run/dl-abcdef-tor1.ctl', id), { kind: 'ctl', path: '/run/dl-abcdef-tor1.ctl' });
  t.deepEqual(parseEntry('bpffs\t/sys/fs/bpf/dl-abcdef', id), { kind: 'bpffs', path: '/sys/fs/bpf/dl-abcdef' });
  const dir = path.join(tmp, 'journal');
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'journal'), 'lab\tabcdef\nnetns\tdl-000000-x\nnetns\tdl-abcdef-a\nnetns\tdl-abcdef-b');
  const j = readJournal(dir, id);
  t.deepEqual(j.entries.map((e) => e.kind), ['lab', 'netns']);
  t.is(j.problems.length, 2, j.problems.join('\n')); // the other lab's namespace, the cut last line
});

test('a pid is the recorded process only with its start time', async (t) => {
  const c = spawn('sleep', ['30']);
  await new Promise((r) => setTimeout(r, 100));
  const start = procStartTime(c.pid!);
  t.regex(start ?? '', /^\d+$/);
  t.true(isRunning({ pid: c.pid!, start: start! }));
  t.false(isRunning({ pid: c.pid!, start: String(Number(start) + 1) }), 'same pid, another start time: another process');
  c.kill('SIGKILL');
});

test('a planted record cannot make down delete or signal anything outside the lab', (t) => {
  // The report's case 1: a record naming a victim folder and a pid. Under a state folder of ours.
  const state = path.join(tmp, 'planted');
  mkdirSync(state, { mode: 0o700 });
  const victim = path.join(tmp, 'victim');
  mkdirSync(victim);
  writeFileSync(path.join(victim, 'precious'), 'x');
  const sleeper = spawn('sleep', ['30']);
  const d = path.join(state, 'job-abcdef');
  mkdirSync(d, { mode: 0o700 });
  writeFileSync(path.join(d, 'journal'), `lab\tabcdef\nowner\t1\t0\nguest\t${sleeper.pid}\t1\nbpffs\t${victim}\nnetns\t../../proc/1/ns/net\n`);
  writeFileSync(path.join(d, 'lab.json'), JSON.stringify({ labId: 'abcdef', jobDir: victim, pid: sleeper.pid, runner: 'native', objects: [] }));
  mkdirSync(path.join(state, 'labs'));
  writeFileSync(path.join(state, 'labs', 'abcdef.json'), '{bad');
  const st = lab(['status'], { DL_STATE_DIR: state });
  t.is(st.status, 0, st.stderr);
  t.regex(st.stdout, /problem: .*not of this lab/);
  t.regex(st.stdout, /labs: not a lab folder/);
  const r = lab(['down', '--all'], { DL_STATE_DIR: state });
  t.is(r.status, 0, r.stderr);
  t.true(existsSync(path.join(victim, 'precious')), 'the victim folder was removed');
  t.true(isRunning({ pid: sleeper.pid!, start: procStartTime(sleeper.pid!)! }), 'a process with another start time was signalled');
  t.deepEqual(readdirSync(state), ['labs'], 'the lab folder (derived from the id) is gone, the stray left alone');
  sleeper.kill('SIGKILL');
});
