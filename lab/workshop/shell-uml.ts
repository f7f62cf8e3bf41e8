// `lab shell` in a UML lab. A terminal: the guest runs the shell on one of its consoles, which UML
// connects to a host pseudo-terminal (agent/shell.sh); this side opens that pty, puts it and the
// user's terminal in raw mode and copies bytes both ways, so the guest's line discipline does
// echo, Ctrl-C and job control. The user's terminal is restored on every way out (exit, signal,
// error). Not a terminal: stdin is read to its end and run by `bash -s` in the guest.
import { closeSync, constants, existsSync, fstatSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import tty from 'node:tty';
import { EXIT, LabError } from '../errors.ts';
import { alive, follow, request, requestId, type LabState } from '../interactive.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ctlFile = (s: LabState, id: string, ext: string) => path.join(s.jobDir, 'ctl', `${id}.${ext}`);

/** Removes every file of request `id` (its heartbeats too). */
function clearRequest(s: LabState, id: string): void {
  const ctl = path.join(s.jobDir, 'ctl');
  for (const f of readdirSync(ctl)) if (f.startsWith(`${id}.`)) rmSync(path.join(ctl, f), { force: true });
}

/** Waits for the guest to name the host pty of the console it took (or to refuse, with a status). */
async function waitForPty(s: LabState, id: string): Promise<string> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (existsSync(ctlFile(s, id, 'tty'))) {
      const pty = readFileSync(ctlFile(s, id, 'tty'), 'utf8').trim();
      if (pty === '') { await sleep(20); continue; } // made, not yet written (one write())
      if (!/^\/dev\/pts\/\d+$/.test(pty)) throw new LabError(`lab ${s.labId}'s guest named "${pty}" as its terminal: not a pty`, EXIT.infra);
      return pty;
    }
    if (existsSync(ctlFile(s, id, 'rc'))) {
      const why = existsSync(ctlFile(s, id, 'out')) ? readFileSync(ctlFile(s, id, 'out'), 'utf8').trim() : '';
      throw new LabError(`lab ${s.labId} opened no shell: ${why || 'the guest refused'}`, EXIT.infra);
    }
    if (!alive(s)) throw new LabError(`lab ${s.labId} went away`, EXIT.infra);
    await sleep(50);
  }
  throw new LabError(`lab ${s.labId} gave no terminal within 30 s`, EXIT.infra);
}

/** Opens the guest console's host pty: only one this user owns (UML, run by this user, made it). */
function openPty(pty: string): number {
  const fd = openSync(pty, constants.O_RDWR | constants.O_NOCTTY);
  const uid = process.getuid?.();
  if (uid !== undefined && fstatSync(fd).uid !== uid) {
    closeSync(fd);
    throw new LabError(`${pty} is not this user's: not attaching to it`, EXIT.infra);
  }
  return fd;
}

export async function umlTerminal(s: LabState, object: string, ns: string): Promise<number> {
  const id = requestId();
  const rows = process.stdout.rows || 24;
  const cols = process.stdout.columns || 80;
  request(s, ['shell', ns, 'tty', String(rows), String(cols), object], id);
  const fd = openPty(await waitForPty(s, id));
  const fromGuest = new tty.ReadStream(fd);
  const toGuest = new tty.WriteStream(fd);
  fromGuest.setRawMode(true);
  const user = process.stdin;
  let beats = 0;
  let beat: NodeJS.Timeout | undefined;
  let restored = false;
  let onResize: (() => void) | undefined;
  const restore = () => {
    if (restored) return;
    restored = true;
    if (user.isTTY) user.setRawMode(false);
  };
  const hangUp = (sig: NodeJS.Signals) => {
    try { writeFileSync(ctlFile(s, id, 'hup'), ''); } catch { /* lab gone */ }
    restore();
    process.exit(128 + (sig === 'SIGHUP' ? 1 : sig === 'SIGINT' ? 2 : 15));
  };
  const sigs: NodeJS.Signals[] = ['SIGHUP', 'SIGTERM', 'SIGINT'];
  process.on('exit', restore);
  for (const sig of sigs) process.on(sig, hangUp);
  try {
    // What an earlier session left in the pty is dropped before the shell starts.
    const drop = () => {};
    fromGuest.on('data', drop);
    await sleep(150);
    fromGuest.off('data', drop);
    // Typed-ahead input waits for the shell's first output (its prompt): sent earlier, it is lost.
    let pending: Buffer[] | undefined = [];
    fromGuest.on('data', (b: Buffer) => {
      process.stdout.write(b);
      if (pending) { for (const p of pending) toGuest.write(p); pending = undefined; }
    });
    writeFileSync(ctlFile(s, id, 'beat.0'), '');
    beat = setInterval(() => {
      try {
        writeFileSync(ctlFile(s, id, `beat.${beats + 1}`), '');
        rmSync(ctlFile(s, id, `beat.${beats}`), { force: true });
        beats++;
      } catch { /* lab gone: the loop below notices */ }
    }, 2000);
    writeFileSync(ctlFile(s, id, 'go'), '');
    process.stderr.write(`connected to ${object} in UML lab ${s.labId}: a terminal in the guest ("exit" or Ctrl-D to leave)\r\n`);
    // A new window size goes to the guest console as a file named after it (agent/shell.sh).
    let sized = 0;
    onResize = () => {
      const rows = process.stdout.rows;
      const cols = process.stdout.columns;
      if (!rows || !cols) return;
      try {
        writeFileSync(ctlFile(s, id, `size-${sized + 1}-${rows}x${cols}`), '');
        const ctl = path.join(s.jobDir, 'ctl');
        for (const f of readdirSync(ctl)) if (f.startsWith(`${id}.size-${sized}-`)) rmSync(path.join(ctl, f), { force: true });
        sized++;
      } catch { /* lab gone */ }
    };
    process.stdout.on('resize', onResize);
    if (user.isTTY) user.setRawMode(true);
    user.on('data', (b: Buffer) => { if (pending) pending.push(b); else toGuest.write(b); });
    user.resume();
    while (!existsSync(ctlFile(s, id, 'rc'))) {
      if (!alive(s)) throw new LabError(`lab ${s.labId} went away`, EXIT.infra);
      await sleep(100);
    }
    await sleep(150); // the shell's last bytes
    const rc = Number(readFileSync(ctlFile(s, id, 'rc'), 'utf8').trim());
    return Number.isFinite(rc) ? rc : 1;
  } finally {
    clearInterval(beat);
    if (onResize) process.stdout.off('resize', onResize);
    for (const sig of sigs) process.off(sig, hangUp);
    restore();
    user.pause();
    user.removeAllListeners('data');
    fromGuest.destroy();
    toGuest.destroy();
    if (!existsSync(ctlFile(s, id, 'rc'))) writeFileSync(ctlFile(s, id, 'hup'), '');
    else clearRequest(s, id);
  }
}

/** Commands from a pipe or file: read to the end, then run by `bash -s` in the namespace. */
export async function umlPipe(s: LabState, object: string, ns: string): Promise<number> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const id = requestId();
  writeFileSync(ctlFile(s, id, 'in'), Buffer.concat(chunks));
  try {
    return await follow(s, request(s, ['shell', ns, 'pipe', '0', '0', object], id), process.stdout);
  } finally {
    rmSync(ctlFile(s, id, 'in'), { force: true });
  }
}
