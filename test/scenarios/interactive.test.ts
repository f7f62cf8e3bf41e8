// Interactive labs: `up` leaves a lab running, exec/status/shell reach it, `down` removes it —
// natively and inside a UML guest (the workshop case: no root needed).
import test from 'ava';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.join(import.meta.dirname, '..', '..');
const cli = path.join(root, 'lab', 'cli.ts');
const fixture = path.join(root, 'test', 'fixtures', 'good', 'eniip-noservices.yaml');
const lab = (args: string[], input?: string) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', input, timeout: 180_000 });

function upLab(t: import('ava').ExecutionContext, args: string[]): string {
  const r = lab(['up', ...args]);
  t.is(r.status, 0, r.stderr + r.stdout);
  const id = /^lab ([0-9a-f]{6}) is up/.exec(r.stdout)?.[1];
  t.truthy(id, r.stdout);
  t.regex(r.stdout, new RegExp(`npm run lab -- down ${id}`));
  return id!;
}

for (const runner of ['native', 'uml']) {
  test.serial(`${runner}: up, exec, shell, status, down`, (t) => {
    const id = upLab(t, ['lite-slb', '--file', fixture, '--runner', runner]);
    try {
      const st = JSON.parse(lab(['status', '--json']).stdout) as { labId: string; runner: string; state: string; mode: string }[];
      t.like(st.find((x) => x.labId === id), { runner, state: 'up', mode: 'up' });
      // The SLB path works in the running lab, reached from the external client's namespace.
      const e = lab(['exec', 'client', '--lab', id, '--', 'socat', '-T', '3', '-u', 'TCP:203.0.113.80:80,connect-timeout=3', 'STDOUT']);
      t.is(e.status, 0, e.stderr);
      t.regex(e.stdout, /pod=nginx-b/);
      // Exit statuses come back: a failing command fails.
      t.is(lab(['exec', 'ecs1', '--lab', id, '--', 'false']).status, 1);
      // Policy routing as Terway programs it, read from the kernel.
      const rules = lab(['exec', 'ecs1', '--lab', id, '--', 'ip', 'rule', 'show']);
      t.regex(rules.stdout, /512:\s+from all to 10\.0\.1\.91 lookup main/);
      t.regex(rules.stdout, /2048:\s+from 10\.0\.1\.91 lookup 1003/);
      const sh = lab(['shell', 'nginx-b', '--lab', id], 'ip -br addr show dev eth0\nexit\n');
      t.regex(sh.stdout, /eth0@if\d+\s+UP\s+10\.0\.3\.58\/32/);
    } finally {
      const d = lab(['down', id]);
      t.is(d.status, 0, d.stderr);
      t.regex(d.stdout, new RegExp(`took down lab ${id}`));
    }
    const after = JSON.parse(lab(['status', '--json']).stdout) as { labId: string }[];
    t.false(after.some((x) => x.labId === id));
    t.false(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.includes(`dl-${id}-`));
    t.false(spawnSync('pgrep', ['-af', `umid=dl-${id}`], { encoding: 'utf8' }).stdout.includes('linux.uml'));
  });
}
