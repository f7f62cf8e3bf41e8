// The lab's journal: one line per thing the lab is about to make, appended and flushed to disk
// *before* it is made — the kernel selftests' `defer` pattern (tools/testing/selftests/net/lib.sh:
// every setup step registers its undo first). Teardown, `lab down ID` and `lab down --all`
// replay it in reverse and touch nothing else: no name matching over the whole machine.
// https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git/tree/tools/testing/selftests/net/lib.sh
//
// Format: TAB-separated lines, written by this module (host side) and by lab/runners/agent.sh
// (the kernel side: namespaces, daemons, control sockets, bpffs folders):
//   lab      LABID            the lab folder <state>/job-LABID (first line)
//   owner    PID START        the command that made the lab (lab scenario, lab up, lab test…)
//   runner   NAME             native | uml | docker, recorded before the runner starts
//   guest    PID START        the User-Mode Linux guest (uml)
//   container NAME            the docker container (docker)
//   agent    PID START        the agent (native: it may outlive a killed command)
//   netns    NAME             a network namespace           (kernel side)
//   ctl      PATH             a daemon's control socket      (kernel side)
//   daemon   NAME PID START   a daemon                       (kernel side)
//   bpffs    PATH             a bpffs folder of pins         (kernel side)
// Every value is checked against the lab id before it is acted on: a namespace must be
// dl-LABID-…, a socket /run/dl-LABID-….ctl, a bpffs folder /sys/fs/bpf/dl-LABID[/…].
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { InfraError } from '../errors.ts';
import type { RecordedProcess } from './proc.ts';

export const LAB_ID_RE = /^[0-9a-f]{6}$/;
export const JOURNAL = 'journal';

export type Entry =
  | { kind: 'lab'; labId: string }
  | { kind: 'owner' | 'guest' | 'agent'; proc: RecordedProcess }
  | { kind: 'runner'; name: 'native' | 'uml' | 'docker' }
  | { kind: 'container'; name: string }
  | { kind: 'netns'; name: string }
  | { kind: 'ctl'; path: string }
  | { kind: 'daemon'; name: string; proc: RecordedProcess }
  | { kind: 'bpffs'; path: string };

export interface Journal {
  labId: string;
  entries: Entry[];
  /** Lines that are not a valid entry for this lab: reported, never acted on. */
  problems: string[];
}

/** The lab's folder: derived from the validated id, never read from state. */
export function labDir(root: string, labId: string): string {
  if (!LAB_ID_RE.test(labId)) throw new Error(`not a lab id: ${JSON.stringify(labId)}`);
  return path.join(root, `job-${labId}`);
}

const NAME = '[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}';
const num = (s: string | undefined) => (s !== undefined && /^[0-9]{1,10}$/.test(s) ? Number(s) : undefined);

function procOf(pid: string | undefined, start: string | undefined): RecordedProcess | undefined {
  const p = num(pid);
  return p !== undefined && p > 1 && start !== undefined && /^[0-9]{1,20}$/.test(start) ? { pid: p, start } : undefined;
}

/** One journal line as an entry of lab `labId`, or a reason it is not one. */
export function parseEntry(line: string, labId: string): Entry | string {
  const f = line.split('\t');
  const ns = new RegExp(`^dl-${labId}-${NAME}$`);
  switch (f[0]) {
    case 'lab': return f[1] === labId && f.length === 2 ? { kind: 'lab', labId } : `lab line names another lab: ${JSON.stringify(line)}`;
    case 'owner': case 'guest': case 'agent': {
      const proc = procOf(f[1], f[2]);
      return proc && f.length === 3 ? { kind: f[0], proc } : `bad ${f[0]} line: ${JSON.stringify(line)}`;
    }
    case 'runner': return f[1] === 'native' || f[1] === 'uml' || f[1] === 'docker' ? { kind: 'runner', name: f[1] } : `bad runner: ${JSON.stringify(line)}`;
    case 'container': return f[1] === `dl-${labId}` ? { kind: 'container', name: f[1] } : `container not of this lab: ${JSON.stringify(line)}`;
    case 'netns': return ns.test(f[1] ?? '') && f.length === 2 ? { kind: 'netns', name: f[1]! } : `namespace not of this lab: ${JSON.stringify(line)}`;
    case 'ctl': {
      const m = /^\/run\/(.+)\.ctl$/.exec(f[1] ?? '');
      return m && ns.test(m[1]!) && f.length === 2 ? { kind: 'ctl', path: f[1]! } : `control socket not of this lab: ${JSON.stringify(line)}`;
    }
    case 'daemon': {
      const proc = procOf(f[2], f[3]);
      return proc && new RegExp(`^${NAME}$`).test(f[1] ?? '') ? { kind: 'daemon', name: f[1]!, proc } : `bad daemon line: ${JSON.stringify(line)}`;
    }
    case 'bpffs': {
      const p = f[1] ?? '';
      return (p === `/sys/fs/bpf/dl-${labId}` || p.startsWith(`/sys/fs/bpf/dl-${labId}/`)) && !p.split('/').includes('..') && f.length === 2
        ? { kind: 'bpffs', path: p } : `bpffs folder not of this lab: ${JSON.stringify(line)}`;
    }
    default: return `unknown journal line: ${JSON.stringify(line.slice(0, 80))}`;
  }
}

/** Reads and validates a lab's journal; a missing journal reads as empty with a problem. */
export function readJournal(dir: string, labId: string): Journal {
  let text: string;
  try {
    text = readFileSync(path.join(dir, JOURNAL), 'utf8');
  } catch (e) {
    return { labId, entries: [], problems: [`no journal (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`] };
  }
  const entries: Entry[] = [];
  const problems: string[] = [];
  // A line cut short by a crash or a full disk is the last one, without its newline: ignored.
  const lines = text.split('\n');
  if (lines.at(-1) !== '') problems.push(`last line incomplete: ${JSON.stringify(lines.at(-1)!.slice(0, 80))}`);
  for (const line of lines.slice(0, -1)) {
    if (!line) continue;
    const e = parseEntry(line, labId);
    if (typeof e === 'string') problems.push(e);
    else entries.push(e);
  }
  if (entries[0]?.kind !== 'lab') problems.unshift('the journal does not start with its lab line');
  return { labId, entries, problems };
}

/** Appends lines and flushes them to disk; throws InfraError (exit 4) when that fails. */
export function appendJournal(dir: string, lines: string[][]): void {
  const text = lines.map((l) => {
    if (l.some((f) => /[\t\n\r]/.test(f))) throw new Error(`journal field with a TAB or newline: ${JSON.stringify(l)}`);
    return l.join('\t') + '\n';
  }).join('');
  let fd: number | undefined;
  try {
    fd = openSync(path.join(dir, JOURNAL), 'a', 0o600);
    const buf = Buffer.from(text);
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off);
    fsyncSync(fd);
  } catch (e) {
    throw new InfraError(`cannot write the lab's journal ${path.join(dir, JOURNAL)}: ${(e as Error).message} — nothing more is built`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export const procFields = (p: RecordedProcess) => [String(p.pid), p.start];

/** The last recorded process of a kind (a guest restarted would be recorded again). */
export function lastProc(j: Journal, kind: 'owner' | 'guest' | 'agent'): RecordedProcess | undefined {
  for (let i = j.entries.length - 1; i >= 0; i--) {
    const e = j.entries[i]!;
    if (e.kind === kind) return e.proc;
  }
  return undefined;
}

export function runnerOf(j: Journal): 'native' | 'uml' | 'docker' | undefined {
  return (j.entries.find((e) => e.kind === 'runner') as { name: 'native' | 'uml' | 'docker' } | undefined)?.name;
}
