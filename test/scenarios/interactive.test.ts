// Interactive labs: `up` leaves a lab running, exec/status/shell reach it, `down` removes it —
// natively and inside a UML guest (the workshop case: no root needed).
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { Terminal } from '../helpers/terminal.ts';

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

/** The command names of the processes in an object's namespace (native) or in the whole guest (UML). */
function processes(runner: string, id: string, object: string): string[] {
  if (runner === 'uml') return lab(['exec', object, '--lab', id, '--', 'ps', '-eo', 'comm=']).stdout.split('\n').map((l) => l.trim()).filter(Boolean);
  const pids = spawnSync('ip', ['netns', 'pids', `dl-${id}-${object}`], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  return pids.flatMap((p) => { try { return [readFileSync(`/proc/${p}/comm`, 'utf8').trim()]; } catch { return []; } });
}

async function untilRunning(runner: string, id: string, object: string, comm: string): Promise<void> {
  for (let i = 0; i < 40 && !processes(runner, id, object).includes(comm); i++) await new Promise((r) => setTimeout(r, 250));
}

/** `lab shell` on a real pty: a terminal with job control, Ctrl-C, a lasting cd, a clean end. */
async function terminalShell(t: import('ava').ExecutionContext, runner: string, id: string): Promise<void> {
  const term = new Terminal([process.execPath, cli, 'shell', 'ecs1', '--lab', id]);
  try {
    await term.until(new RegExp(`\\[ecs1@(lab|uml) ${id}\\]# `), 60_000);
    term.type('cd /proc\r');
    term.type('pwd\r');
    t.truthy(await term.until(/[\r\n]\/proc\r*\n/));
    term.type('tty\r');
    // A terminal of its own: a pty natively, the guest console UML ties to a host pty in UML.
    t.regex(await term.until(/[\r\n]\/dev\/(pts\/\d+|tty[2-5])\r*\n/), runner === 'uml' ? /\/dev\/tty[2-5]/ : /\/dev\/pts\/\d+/);
    // The window size follows the user's terminal: resize it (the CLI's stdin is its pty).
    const pid = spawnSync('pgrep', ['-f', '-n', `cli.ts shell ecs1 --lab ${id}`], { encoding: 'utf8' }).stdout.trim();
    t.truthy(pid, 'the shell command runs');
    t.is(spawnSync('stty', ['-F', readlinkSync(`/proc/${pid}/fd/0`), 'rows', '33', 'cols', '101']).status, 0);
    let size = '';
    for (let i = 0; i < 20 && !/33 101/.test(size); i++) {
      await new Promise((r) => setTimeout(r, 300));
      term.type('stty size\r');
      size = await term.until(/[\r\n]\d+ \d+\r*\n/);
    }
    t.regex(size, /[\r\n]33 101\r*\n/);
    term.type('sleep 100\r');
    await untilRunning(runner, id, 'ecs1', 'sleep');
    term.type('\x03');
    term.type('echo alive\r');
    t.truthy(await term.until(/[\r\n]alive\r*\n/), 'Ctrl-C ended the foreground job, not the shell');
    term.type('sleep 100 &\r');
    term.type('jobs\r');
    t.truthy(await term.until(/\[1\]\+\s+Running\s+sleep 100 &/));
    term.type('tcpdump -i any -nn >/dev/null 2>&1 &\r');
    await untilRunning(runner, id, 'ecs1', 'tcpdump');
    const during = processes(runner, id, 'ecs1');
    t.true(during.includes('tcpdump') && during.includes('sleep'), during.join(' '));
    term.type('exit\r');
    t.is(await term.done, 0, term.shown);
  } finally {
    term.close();
  }
  // Nothing the shell started outlives it.
  const after = processes(runner, id, 'ecs1');
  t.false(after.includes('tcpdump'), after.join(' '));
  t.false(after.includes('sleep'), after.join(' '));
}

for (const runner of ['native', 'uml']) {
  test.serial(`${runner}: up, exec, shell, status, down`, async (t) => {
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
      // Not a terminal: commands from stdin, run by one shell (a cd carries to the next line).
      const sh = lab(['shell', 'nginx-b', '--lab', id], 'ip -br addr show dev eth0\ncd /proc\npwd\nsleep 100 &\nexit\n');
      t.regex(sh.stdout, /eth0@if\d+\s+UP\s+10\.0\.3\.58\/32/);
      t.regex(sh.stdout, /^\/proc$/m);
      t.false(processes(runner, id, 'nginx-b').includes('sleep'));
      await terminalShell(t, runner, id);
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
