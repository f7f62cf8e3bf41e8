// Pod servers in the job (lab/families/shared/pod-wiring.ts, lab/runners/job.ts): one `server`
// manifest line per listening port — namespace, name, protocol, port, the reply file — followed by
// the socat daemon the agent runs where dlpod is missing, on the same port with the same file; the
// reply files are in the job; `lab plan` shows them.
import test from 'ava';
import path from 'node:path';
import { compileScenario } from '../../lab/compile.ts';
import { renderPlan } from '../../lab/report/plan.ts';
import { renderJob } from '../../lab/runners/job.ts';
import { loadTopology, TOPOLOGY_DIR } from '../../lab/topology/load.ts';

const compiled = (family: string, id: string) => {
  const topo = loadTopology(path.join(TOPOLOGY_DIR, `${family}.yaml`));
  return compileScenario(topo, topo.scenarios.find((s) => s.id === id)!, 'test01');
};

test('kproxy-1: a server line per listening port (TCP and UDP), its socat form, its reply file', (t) => {
  const c = compiled('kproxy', 'kproxy-1');
  const files = renderJob(c);
  const lines = files['manifest.tsv']!.split('\n').filter((l) => l.startsWith('server\t')).map((l) => l.split('\t'));
  const pods = c.ctx.cluster.pods.filter((p) => p.listen.length + p.listenUdp.length > 0);
  t.is(lines.length, pods.reduce((n, p) => n + p.listen.length + p.listenUdp.length, 0));
  t.true(lines.some((f) => f[3] === 'udp'), 'coredns answers UDP 53');
  for (const f of lines) {
    const [, ns, name, proto, port, file, ...socat] = f as [string, string, string, string, string, string, ...string[]];
    t.regex(ns, /^dl-test01-[a-z0-9-]+$/);
    t.regex(name, new RegExp(`^srv-.*-${proto === 'tcp' ? '' : proto}${port}$`));
    t.true(['tcp', 'udp'].includes(proto));
    t.regex(file, /^@JOB@\/files\/resp-/);
    t.true(file.slice('@JOB@/'.length) in files, `${file} is written into the job`);
    const pod = ns.slice('dl-test01-'.length);
    t.regex(files[file.slice('@JOB@/'.length)]!, new RegExp(`pod=${pod} ip=[0-9.]+ port=${port}\\n$`));
    t.is(socat[0], 'socat');
    t.true(socat.includes(`OPEN:${file},rdonly`) || socat.includes(`OPEN:${file},rdonly!!OPEN:/dev/null,wronly`), socat.join(' '));
    t.true(socat.some((a) => a.startsWith(proto === 'udp' ? `UDP-RECVFROM:${port},` : `TCP-LISTEN:${port},`)), socat.join(' '));
  }
  // The pod servers are consecutive: the agent starts them as one process.
  const kinds = files['manifest.tsv']!.split('\n').map((l) => l.split('\t')[0]);
  const first = kinds.indexOf('server');
  t.true(kinds.slice(first, first + lines.length).every((k) => k === 'server'));
  t.regex(renderPlan(c), /### server dl-test01-coredns-[a-z0-9-]+ srv-coredns-[a-z0-9-]+-udp53 udp 53 @JOB@\/files\/resp-/);
});

test('bird daemons stay daemon lines with their control socket', (t) => {
  const files = renderJob(compiled('kproxy', 'calico-1'));
  const birds = files['manifest.tsv']!.split('\n').filter((l) => l.split('\t')[2]?.startsWith('bird-')).map((l) => l.split('\t'));
  t.true(birds.length > 0);
  for (const f of birds) t.deepEqual([f[0], f[3], f[4]], ['daemon', `/run/${f[1]}.ctl`, 'bird']);
});
