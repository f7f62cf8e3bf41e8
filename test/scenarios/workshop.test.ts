// The workshop loop on a live lab: `lab up`, then `lab check` twice (the second reads only its own
// probes), the report's verdicts, and `lab diagram` drawing that check's run; then `lab down`.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const cli = path.join(import.meta.dirname, '..', '..', 'lab', 'cli.ts');
const lab = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 300_000, env: { ...process.env, NO_COLOR: '1' } });

for (const runner of ['native', 'uml'] as const) {
  test.serial(`lab check on a lab that is up (${runner}): the scenario's report and exit status, twice`, (t) => {
    const upped = lab(['up', 'kproxy-1', '--runner', runner]);
    t.is(upped.status, 0, upped.stderr);
    const labId = /lab ([0-9a-f]{6}) is up/.exec(upped.stdout)?.[1];
    t.truthy(labId, upped.stdout);
    try {
      for (const round of [1, 2]) {
        const r = lab(['check', '--lab', labId!]);
        t.is(r.status, 0, `check ${round}: ${r.stdout.slice(-2000)}\n${r.stderr}`);
        t.regex(r.stdout, /verdict: delivered at nginx-demo-1-\S+:eth0: answered by nginx-demo-1-/);
        t.regex(r.stdout, /★ DNAT in worker-a: destination 10\.196\.52\.1 → 10\.217\.120\.\d+/);
        t.regex(r.stdout, /kproxy-1: PASSED/);
        const j = lab(['check', '--lab', labId!, '--json']);
        t.is(j.status, 0, `check ${round} --json: ${j.stdout.slice(0, 1500)}\n${j.stderr}`);
        const doc = JSON.parse(j.stdout) as { passed: boolean; probes: { reachable: boolean }[] };
        t.true(doc.passed);
        t.true(doc.probes.every((p) => p.reachable));
      }
      const d = lab(['diagram', 'kproxy-1', '--path', '--format', 'text']);
      t.is(d.status, 0, d.stderr);
      t.regex(d.stderr, /drawing the last run of kproxy-1/);
      t.regex(d.stdout, /★ DNAT: dst 10\.196\.52\.1 → 10\.217\.120\.\d+/);
    } finally {
      const down = lab(['down', labId!]);
      t.is(down.status, 0, down.stderr);
    }
  });
}
