// `lab shell` on the native runner. A terminal: util-linux `script` makes a pseudo-terminal in the
// lab namespace and runs bash as the leader of a new session on it (script(1): the child calls
// setsid), relaying the user's terminal in raw mode — so Ctrl-C, job control and window size work
// as in any terminal. Not a terminal: `setsid bash -s` reads commands from stdin. Either way, when
// the shell ends every process of its session that is still in the lab namespace is killed.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { LabState } from '../interactive.ts';
import { statFields } from '../state/proc.ts';

// Constant code: the session id goes to a file named by an environment value, never by text in code;
// the prompt comes as DL_PS1 (the non-interactive `bash -c` in between would unset PS1).
const WRAP_TTY = 'printf "%s\\n" "$$" >"$DL_SID_FILE"; export PS1=$DL_PS1; exec bash --norc -i';
const WRAP_PIPE = 'printf "%s\\n" "$$" >"$DL_SID_FILE"; exec bash --norc -s';

/** The prompt names the object; the name is checked first, since bash expands a prompt. */
function prompt(object: string, where: string): string {
  return /^[A-Za-z0-9_.-]{1,63}$/.test(object) ? `[${object}@${where}]# ` : '# ';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Processes of session `sid` whose network namespace is `netInode` (from /proc, proc(5)). */
function sessionMembers(sid: number, netInode: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (Number(statFields(Number(d))?.[6 - 3]) !== sid) continue; // field 6: session
      if (readlinkSync(`/proc/${d}/ns/net`) !== `net:[${netInode}]`) continue;
      out.push(Number(d));
    } catch { /* gone meanwhile */ }
  }
  return out;
}

/** HUP, then KILL, what is left of the shell's session in the lab namespace. */
export async function killSession(sid: number | undefined, ns: string): Promise<number[]> {
  if (!sid) return [];
  let ino: number;
  try { ino = statSync(`/run/netns/${ns}`).ino; } catch { return []; }
  const first = sessionMembers(sid, ino);
  for (const sig of ['SIGHUP', 'SIGKILL'] as const) {
    const left = sessionMembers(sid, ino);
    for (const p of left) { try { process.kill(p, sig); } catch { /* gone */ } }
    if (!left.length) break;
    await sleep(300);
  }
  return first;
}

function readSid(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 1 ? n : undefined;
  } catch {
    return undefined;
  }
}

export async function nativeShell(s: LabState, object: string, ns: string, terminal: boolean): Promise<number> {
  const sidFile = path.join(s.jobDir, `shell-${process.pid}.sid`);
  const env = { ...process.env, SHELL: '/bin/bash', DL_SID_FILE: sidFile, DL_PS1: prompt(object, `lab ${s.labId}`) };
  const argv = terminal
    ? ['netns', 'exec', ns, 'script', '-q', '-e', '-c', WRAP_TTY, '/dev/null']
    : ['netns', 'exec', ns, 'setsid', '-w', 'bash', '-c', WRAP_PIPE];
  const child = spawn('ip', argv, { stdio: 'inherit', env });
  // The terminal's Ctrl-C belongs to the shell (script puts the terminal in raw mode); a signal to
  // this process (hang-up, TERM, or Ctrl-C in pipe mode) ends the shell's session and then us.
  let stopped: NodeJS.Signals | undefined;
  const stop = (sig: NodeJS.Signals) => { stopped = sig; try { child.kill('SIGHUP'); } catch { /* gone */ } };
  const sigs: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const sig of sigs) process.on(sig, stop);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, sg) => resolve([c, sg])));
  for (const sig of sigs) process.off(sig, stop);
  await killSession(readSid(sidFile), ns);
  rmSync(sidFile, { force: true });
  if (stopped) return 128 + (stopped === 'SIGINT' ? 2 : stopped === 'SIGTERM' ? 15 : 1);
  return code ?? (signal ? 129 : 1);
}
