// Lifecycle on the host kernel: a run leaves nothing behind, two labs run at once without
// colliding, and `lab down --all` cleans up after a run killed mid-way. Needs root (namespaces on
// the host); the scenarios used need only veth, policy routing and iptables.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stateRoot } from '../../lab/runners/job.ts';

const root = path.join(import.meta.dirname, '..', '..');
const fixture = path.join(root, 'test', 'fixtures', 'good', 'eniip-noservices.yaml');
const cli = path.join(root, 'lab', 'cli.ts');

function labNamespaces(): string[] {
  return spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith('dl-'));
}
function labProcesses(): string[] {
  // socat servers and tcpdumps started by the agent carry the lab's job dir or namespaces.
  return spawnSync('pgrep', ['-af', 'job-[0-9a-f]{6}'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l && !l.includes('pgrep'));
}
function jobDirs(): string[] {
  return existsSync(stateRoot()) ? readdirSync(stateRoot()).filter((d) => d.startsWith('job-')) : [];
}

test.before((t) => {
  if (process.getuid?.() !== 0) t.fail('lifecycle tests need root: they create network namespaces on the host kernel (run as root, or in CI)');
});

test.serial('a native run leaves no namespace, process or job directory', async (t) => {
  const r = spawnSync(process.execPath, [cli, 'scenario', 'lite-cross-node', '--file', fixture, '--runner', 'native', '--json'], { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr + r.stdout);
  const report = JSON.parse(r.stdout) as { passed: boolean; runner: string; labId: string };
  t.true(report.passed);
  t.is(report.runner, 'native');
  // Scoped to this run's lab id: other test files build labs at the same time.
  t.deepEqual(labNamespaces().filter((n) => n.startsWith(`dl-${report.labId}-`)), []);
  t.deepEqual(jobDirs().filter((j) => j === `job-${report.labId}`), []);
  t.deepEqual(labProcesses().filter((l) => l.includes(`job-${report.labId}`) || l.includes(`dl-${report.labId}-`)), []);
});

test.serial('two labs at once do not collide', async (t) => {
  const run = (id: string) => new Promise<{ code: number | null; out: string }>((resolve) => {
    const c = spawn(process.execPath, [cli, 'scenario', id, '--file', fixture, '--runner', 'native', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    c.on('close', (code) => resolve({ code, out }));
  });
  const [a, b] = await Promise.all([run('lite-cross-node'), run('lite-slb')]);
  t.is(a.code, 0, a.out);
  t.is(b.code, 0, b.out);
  const ids = [a, b].map((x) => (JSON.parse(x.out) as { labId: string }).labId);
  t.not(ids[0], ids[1]);
  for (const id of ids) t.deepEqual(labNamespaces().filter((n) => n.startsWith(`dl-${id}-`)), []);
});

// `down --all` itself is not run here: it would also remove the labs of other test files running
// at the same time. `down <labid>` takes the same path with a filter.
test.serial('down removes what a SIGKILLed run left behind', async (t) => {
  // A state directory of this test's own, so that its lab is told apart from other test files'.
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'dl-lifecycle-'));
  const env = { ...process.env, DL_STATE_DIR: stateDir };
  try {
    const c = spawn(process.execPath, [cli, 'scenario', 'lite-slb', '--file', fixture, '--runner', 'native', '--keep'], { stdio: 'ignore', detached: true, env });
    // Kill the CLI's process group as soon as the lab's namespaces exist (the agent runs on in its own group).
    let labId: string | undefined;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      labId ??= readdirSync(stateDir).map((d) => /^job-([0-9a-f]{6})$/.exec(d)?.[1]).find(Boolean);
      if (labId && labNamespaces().filter((n) => n.startsWith(`dl-${labId}-`)).length >= 5) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    t.truthy(labId, 'the run never wrote its job directory');
    t.true(labNamespaces().filter((n) => n.startsWith(`dl-${labId}-`)).length >= 5, 'the run never built its namespaces');
    // The agent too (its pid from the journal): left alone, it notices its command is gone and
    // tears the lab down itself, and nothing would be left behind for down.
    const agent = /^agent\t(\d+)\t/m.exec(readFileSync(path.join(stateDir, `job-${labId}`, 'journal'), 'utf8'))?.[1];
    t.truthy(agent, 'the journal names the agent');
    process.kill(-c.pid!, 'SIGKILL');
    process.kill(Number(agent), 'SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    t.true(labNamespaces().filter((n) => n.startsWith(`dl-${labId}-`)).length >= 5, 'the killed run left its namespaces');
    const d = spawnSync(process.execPath, [cli, 'down', labId!], { encoding: 'utf8', env });
    t.is(d.status, 0, d.stderr);
    t.regex(d.stdout, /removed [1-9]\d* namespace/);
    t.deepEqual(labNamespaces().filter((n) => n.startsWith(`dl-${labId}-`)), []);
    t.deepEqual(labProcesses().filter((l) => l.includes(`job-${labId}`)), []);
    t.deepEqual(readdirSync(stateDir).filter((j) => j === `job-${labId}`), []);
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test('no runner can serve: exit 3 naming the package', (t) => {
  const r = spawnSync(process.execPath, [cli, 'scenario', 'eniip-1', '--runner', 'uml'], { encoding: 'utf8', env: { ...process.env, DL_UML: '/nonexistent/linux.uml' } });
  t.is(r.status, 3, r.stderr);
  t.regex(r.stderr, /apt-get install user-mode-linux/);
});

test('an fd limit that keeps tools from loading is a broken run (exit 4 naming the tool), never a verdict', (t) => {
  // Under UML every guest process is a host process: with 48 descriptors the guest's tools cannot
  // open their libraries ("Error 24"). Before, this read as "reachable: expected yes, observed no".
  const r = spawnSync('bash', ['-c', 'ulimit -n 48; exec "$0" "$@"', process.execPath, cli, 'scenario', 'lite-slb', '--file', fixture, '--runner', 'uml'], { encoding: 'utf8', timeout: 300_000 });
  t.is(r.status, 4, r.stdout + r.stderr);
  t.regex(r.stdout + r.stderr, /a tool in the lab failed to start|the run broke/);
  t.regex(r.stdout + r.stderr, /error while loading shared libraries|Too many open files|Error 24/);
  t.notRegex(r.stdout, /FAIL reachable/);
});
