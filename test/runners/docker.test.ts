// The docker runner. Unit checks need nothing; the scenario runs need a docker engine with the
// lab's image (scripts/ci-docker.sh provides both) and FAIL — never skip — with the reason and
// the fix when there is none. The scenarios used need only veth, policy routing and iptables,
// which the host kernel a container shares can serve. The host's root network namespace must be
// exactly as before: the container has its own network namespace and the lab lives inside it.
import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { locateScenario } from '../../lab/catalog.ts';
import { compileScenario } from '../../lab/compile.ts';
import { renderScenario } from '../../lab/report/terminal.ts';
import { runScenario, type ScenarioReport } from '../../lab/run.ts';
import { docker, imagePackages, imageTag } from '../../lab/runners/docker.ts';
import { stateRoot } from '../../lab/runners/job.ts';

const root = path.join(import.meta.dirname, '..', '..');
const fixture = path.join(root, 'test', 'fixtures', 'good', 'eniip-noservices.yaml');
const cli = path.join(root, 'lab', 'cli.ts');

const sh = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'utf8' });

/** The host's root network namespace, as far as the lab could ever change it. */
function hostNetwork(): Record<string, string> {
  const s: Record<string, string> = {
    link: sh('ip', ['-d', '-o', 'link', 'show']).stdout,
    addr: sh('ip', ['-br', 'addr', 'show']).stdout,
    route: sh('ip', ['route', 'show', 'table', 'all']).stdout,
    rule: sh('ip', ['rule', 'show']).stdout,
    forwarding: sh('sysctl', ['-n', 'net.ipv4.ip_forward']).stdout,
  };
  if (process.getuid?.() === 0) {
    // Rules and chains, without counters and the timestamp comments.
    s.iptables = sh('iptables-save', []).stdout.split('\n').filter((l) => !l.startsWith('#')).map((l) => l.replace(/\[\d+:\d+\]/g, '')).join('\n');
    s.nft = sh('nft', ['list', 'ruleset']).stdout.replace(/counter packets \d+ bytes \d+/g, 'counter');
  }
  return s;
}

const jobDirs = () => (existsSync(stateRoot()) ? readdirSync(stateRoot()).filter((d) => d.startsWith('job-')) : []);

/** Containers of a lab still known to the engine (AutoRemove is asynchronous: give it a moment). */
async function leftoverContainers(labId: string): Promise<string> {
  let out = '';
  for (let i = 0; i < 50; i++) {
    out = sh('docker', ['ps', '-a', '--filter', `name=^dl-${labId}$`, '--format', '{{.Names}} {{.Status}}']).stdout.trim();
    if (!out) return '';
    await new Promise((r) => setTimeout(r, 100));
  }
  return out;
}

/** Fails the test (with the reason and the fix) when the docker runner cannot serve these features. */
async function requireDocker(t: ExecutionContext, features: Set<string>): Promise<boolean> {
  const a = await docker.available(features);
  if (!a.ok) t.fail(`the docker runner cannot run here: ${a.reason}${a.fix ? `\n  fix: ${a.fix}` : ''}\n  (scripts/ci-docker.sh starts an engine and builds the image)`);
  return a.ok;
}

async function runInDocker(t: ExecutionContext, id: string): Promise<ScenarioReport | undefined> {
  const { topo, scenario } = locateScenario(id, fixture);
  if (!(await requireDocker(t, compileScenario(topo, scenario, '000000').plan.features))) return undefined;
  const before = hostNetwork();
  const report = await runScenario(topo, scenario, { runner: 'docker', timeoutMs: 5 * 60_000 });
  t.log(`${id}: ${report.runner} ${report.kernel}, ${(report.timings.total / 1000).toFixed(1)} s (boot ${report.timings.boot} ms, build ${report.timings.build} ms, probe ${report.timings.probe} ms, teardown ${report.timings.teardown} ms)`);
  if (!report.passed) t.log(renderScenario(report, true));
  t.is(report.runner, 'docker');
  t.falsy(report.error, `${id} could not run: ${report.error}`);
  t.true(report.probes.length > 0, `${id} produced no probe results`);
  for (const p of report.probes) {
    t.true(p.checks.length > 0, `${id} ${p.name}: no checks were evaluated`);
    for (const c of p.checks) t.true(c.passed, `${id} ${p.name}: ${c.name}: expected ${c.expected}, observed ${c.observed}`);
  }
  t.true(report.timings.build > 0 && report.timings.probe > 0 && report.timings.total > 0, `timings: ${JSON.stringify(report.timings)}`);
  t.deepEqual(hostNetwork(), before, 'the host\'s root network namespace changed');
  // Other labs may come and go in the shared state directory meanwhile: look at this one only.
  t.deepEqual(jobDirs().filter((d) => d === `job-${report.labId}`), [], 'the job directory was left behind');
  t.is(await leftoverContainers(report.labId), '', 'the container was not removed');
  return report;
}

test('the image tag is the same in the build script and the runner', (t) => {
  const r = sh('bash', [path.join(root, 'scripts', 'build-docker-image.sh'), '--print-tag']);
  t.is(r.status, 0, r.stderr);
  t.is(r.stdout.trim(), imageTag());
  t.regex(imageTag(), /^datapath-lab\/agent:[0-9a-f]{12}$/);
  for (const p of ['iproute2', 'iptables', 'ipset', 'ipvsadm', 'conntrack', 'tcpdump', 'socat', 'procps', 'util-linux']) t.true(imagePackages().includes(p), p);
});

test('a plan needing a tool the image lacks is refused, naming the package', async (t) => {
  const a = await docker.available(new Set(['veth', 'bpf']));
  t.false(a.ok);
  t.regex(a.reason ?? '', /bpftool/);
  t.regex(a.fix ?? '', /docker-image\.packages/);
});

test('without a docker engine: exit 3, naming docker.io and dockerd', (t) => {
  const r = spawnSync(process.execPath, [cli, 'scenario', 'lite-slb', '--file', fixture, '--runner', 'docker'], {
    encoding: 'utf8', env: { ...process.env, DOCKER_HOST: 'unix:///nonexistent/docker.sock' },
  });
  t.is(r.status, 3, r.stderr + r.stdout);
  t.regex(r.stderr, /no docker engine answers/);
  t.regex(r.stderr, /apt-get install docker\.io/);
  t.regex(r.stderr, /dockerd/);
});

test.serial('lite-cross-node passes in a container, and the host is untouched', async (t) => {
  await runInDocker(t, 'lite-cross-node');
});

test.serial('lite-slb passes in a container (iptables-restore, nft backend, on the host kernel)', async (t) => {
  await runInDocker(t, 'lite-slb');
});

test.serial('features the host kernel lacks are refused, naming the kernel option', async (t) => {
  if (!(await requireDocker(t, new Set(['veth'])))) return;
  // Whatever this kernel lacks (here: ipvlan, 802.1Q, dummy, IPVS), the runner must say so.
  for (const f of ['ipvlan', 'vlan', 'dummy', 'ipvs']) {
    const a = await docker.available(new Set(['veth', f]));
    if (a.ok) continue; // this kernel has it
    t.regex(a.reason ?? '', /shares? the host kernel/);
    t.regex(a.reason ?? '', /CONFIG_/);
    t.regex(a.fix ?? '', /--runner uml/);
  }
  t.pass();
});
