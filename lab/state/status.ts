// `lab status`: every lab of this user, from its journal — runs in progress, `lab up` labs, and
// what killed commands left behind (a UML guest still serving after its `lab up` was killed, a
// native lab's namespaces). Malformed records are listed with the reason, never a crash.
import { existsSync } from 'node:fs';
import { lastProc, runnerOf } from './journal.ts';
import { listLabDirs, type LabEntry } from './labs.ts';
import { isRunning } from './proc.ts';

export interface StatusRow {
  labId: string;
  scenario?: string;
  mode?: 'run' | 'up';
  runner?: string;
  /** running: its command runs; up: left up by `lab up` and alive; left: its command is gone but parts remain. */
  state: 'running' | 'up' | 'left' | 'empty';
  command?: number;
  guest?: number;
  namespaces: number;
  createdAt?: string;
  problems: string[];
}

export function statusRow(e: LabEntry): StatusRow {
  const j = e.journal;
  const owner = lastProc(j, 'owner');
  const guest = lastProc(j, 'guest');
  const guestUp = isRunning(guest);
  const runner = runnerOf(j);
  const namespaces = runner === 'native' ? j.entries.filter((x) => x.kind === 'netns' && existsSync(`/run/netns/${x.name}`)).length : 0;
  const commandUp = isRunning(owner) && owner.pid !== process.pid;
  const mode = e.record?.mode;
  const state = commandUp ? 'running' : mode === 'up' && (guestUp || namespaces) ? 'up' : guestUp || namespaces ? 'left' : 'empty';
  return {
    labId: e.labId, scenario: e.record?.scenario, mode, runner, state, command: commandUp ? owner!.pid : undefined,
    guest: guestUp ? guest!.pid : undefined, namespaces, createdAt: e.record?.createdAt,
    problems: [...j.problems, ...(e.recordProblem ? [e.recordProblem] : [])],
  };
}

export function statusRows(): { rows: StatusRow[]; strays: string[] } {
  const { labs, strays } = listLabDirs();
  return { rows: labs.map(statusRow), strays };
}

const STATE_TEXT: Record<StatusRow['state'], string> = {
  running: 'running',
  up: 'up',
  left: 'LEFT BEHIND (its command is gone)',
  empty: 'finished (nothing of it runs; its folder is kept)',
};

export function renderStatus(rows: StatusRow[], strays: string[]): string {
  if (!rows.length && !strays.length) return 'no lab is up\n';
  const out: string[] = [];
  for (const r of rows) {
    const parts = [
      r.labId, (r.scenario ?? '?').padEnd(16), (r.runner ?? '?').padEnd(7), STATE_TEXT[r.state],
      r.command ? `command pid ${r.command}` : '', r.guest ? `UML guest pid ${r.guest}` : '', r.runner === 'native' ? `${r.namespaces} namespaces` : '',
      r.createdAt ? `since ${r.createdAt}` : '', r.state === 'left' || r.state === 'empty' ? `(lab down ${r.labId} cleans it)` : '',
    ];
    out.push(parts.filter(Boolean).join('  '));
    for (const p of r.problems) out.push(`    problem: ${p}`);
  }
  for (const s of strays) out.push(`${s}: not a lab folder (left alone)`);
  return out.join('\n') + '\n';
}
