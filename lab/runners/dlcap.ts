// The lab's capture process (native/dlcap.c: one packet socket per lab namespace, one pcapng
// stream), built from source into .lab/dlcap when missing or older than its source — like the
// UML xstate shim. The agent falls back to one tcpdump per namespace when it cannot be built.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const SRC = path.join(here, 'native', 'dlcap.c');
export const DLCAP = path.resolve(here, '../..', '.lab', 'dlcap');

/** The path of an up-to-date dlcap binary, or the reason there is none (gcc or libpcap-dev missing). */
export function ensureDlcap(): { path?: string; error?: string } {
  if (existsSync(DLCAP) && statSync(DLCAP).mtimeMs >= statSync(SRC).mtimeMs) return { path: DLCAP };
  mkdirSync(path.dirname(DLCAP), { recursive: true });
  // Built under a private name and renamed: concurrent runs never see a half-written binary.
  const tmp = `${DLCAP}.${process.pid}.tmp`;
  try {
    execFileSync('gcc', ['-O2', '-Wall', '-o', tmp, SRC, '-lpcap'], { stdio: 'pipe' });
    renameSync(tmp, DLCAP);
    return { path: DLCAP };
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    return { error: `cannot build ${path.relative(process.cwd(), SRC)} (needs gcc and libpcap-dev): ${(err.stderr?.toString() || err.message).split('\n')[0]}` };
  }
}
