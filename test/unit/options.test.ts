// Options are checked before anything runs: exit 2 saying what was expected, no lab built.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

const root = path.join(import.meta.dirname, '..', '..');
const cli = path.join(root, 'lab', 'cli.ts');
const state = path.join(root, '.lab', 'options-never-used');
const lab = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, DL_STATE_DIR: state } });

const cases: [string[], RegExp][] = [
  [['test', '-j', 'abc', '--reporter', 'tap'], /--jobs: "abc" is not a whole number from 1 to 256/],
  [['test', '-j', '0'], /--jobs: "0" is not a whole number/],
  [['scenario', 'eniip-5', '--timeout', 'abc'], /--timeout: "abc" is not a whole number from 1 to 86400/],
  [['scenario', 'eniip-5', '--timeout', '-5'], /--timeout: "-5" is not a whole number/],
  [['lb', 'list', 'ipvlan-5', '--timeout', '1e3'], /--timeout: "1e3" is not a whole number/],
  [['scenario', 'eniip-5', '-o', '/nonexistent/report.json'], /--output: cannot create \/nonexistent\/report\.json: its folder \/nonexistent does not exist/],
  [['test', '--reporter', 'junit', '--output', '/nonexistent/x.xml'], /--output: cannot create/],
  [['test', '--reporter', 'html', '--output', '/etc/hostname'], /--output: \/etc\/hostname exists and is not a directory/],
  [['diagram', 'eniip-5', '--no-run', '-o', '/nonexistent/d.mmd'], /--output: cannot create/],
  [['capture', 'ecs1', 'any', '--', '-w', '/tmp/x'], /capture: "-w" is a tcpdump option; capture takes a filter expression only/],
  [['capture', 'ecs1', '-i'], /capture: "-i" is not an interface name|unknown option/],
  [['down', 'xyz'], /"xyz" is not a lab id/],
];

for (const [args, why] of cases) {
  test(`lab ${args.join(' ')}: exit 2 before anything runs`, (t) => {
    const r = lab(args);
    t.is(r.status, 2, r.stderr + r.stdout);
    t.regex(r.stderr, why);
    t.notRegex(r.stderr, /\n\s+at /, 'a stack trace');
    t.false(existsSync(state), 'a lab folder was created');
  });
}
