// The kernel tests' own User-Mode Linux guests: linux.uml booted with a small init script as PID 1
// (test/kernel/*-init.sh, *-guest.sh), on the host's root through hostfs, with values passed on
// the kernel command line (the kernel hands NAME=value words to init's environment: never pasted
// into a script). The test reads what the script left in a host folder.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureShim, umlBinary } from '../../lab/runners/uml.ts';

export interface TestGuest {
  /** linux.uml's exit status: the script writes 0 to /proc/exitcode once it ran to its end. */
  code: number | null;
  /** The last 8000 characters of the guest's console (kernel messages, a panic). */
  console: string;
}

/** Boots INIT with VARS on the kernel command line and waits until the guest powers off; it is
 *  killed (with its process group) after timeoutMs. DIR holds the UML's own folder (uml/). */
export function runTestGuest(o: { init: string; dir: string; umid: string; vars: Record<string, string>; mem?: string; timeoutMs: number }): Promise<TestGuest> {
  const umlDir = join(o.dir, 'uml');
  mkdirSync(umlDir, { recursive: true });
  const args = [`mem=${o.mem ?? '256M'}`, 'root=/dev/root', 'rootfstype=hostfs', 'rootflags=/', 'rw', `init=${o.init}`,
    ...Object.entries(o.vars).map(([k, v]) => `${k}=${v}`), 'con=null', 'con0=fd:0,fd:1', `umid=${o.umid}`, `uml_dir=${umlDir}`, 'quiet'];
  const child = spawn(umlBinary() ?? 'linux.uml', args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, LD_PRELOAD: ensureShim() } });
  let text = '';
  child.stdout.on('data', (d: Buffer) => { text = (text + d.toString()).slice(-8000); });
  child.stderr.on('data', (d: Buffer) => { text = (text + d.toString()).slice(-8000); });
  const timer = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } }, o.timeoutMs);
  return new Promise((resolve) => {
    child.on('error', (e) => { clearTimeout(timer); resolve({ code: null, console: `cannot start linux.uml: ${e.message}` }); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, console: text }); });
  });
}

/** A reader of the files a guest left in DIR: the text, or "(no NAME)" when it is missing. */
export function guestFiles(dir: string): (name: string) => string {
  return (name) => (existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'utf8') : `(no ${name})`);
}
