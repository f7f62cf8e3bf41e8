// Where a user's lab state lives, and the check that it is really theirs.
//
// Root's state is under /run/datapath-lab (a tmpfs only root can write), another user's under
// $XDG_RUNTIME_DIR/datapath-lab (systemd's per-user 0700 runtime directory) or, without one,
// ~/.local/state/datapath-lab (the XDG base-directory spec's state home). $DL_STATE_DIR overrides
// both (tests give each file its own). A shared folder such as /tmp/datapath-lab is never used: a
// user could create it first and plant records root would then act on.
//
// Like ssh's StrictModes (sshd_config(5): "check file modes and ownership of the user's files
// and home directory before accepting login"), the folder is refused unless it is a real
// directory (lstat: not a symlink), owned by the user, writable by no one else.
// https://man.openbsd.org/sshd_config#StrictModes
// https://specifications.freedesktop.org/basedir-spec/latest/
import { lstatSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StateError } from '../errors.ts';

/** The state folder this process would use (not created, not checked). */
export function stateRoot(): string {
  if (process.env.DL_STATE_DIR) return path.resolve(process.env.DL_STATE_DIR);
  if (process.getuid?.() === 0) return '/run/datapath-lab';
  const xdg = process.env.XDG_RUNTIME_DIR;
  if (xdg && path.isAbsolute(xdg)) return path.join(xdg, 'datapath-lab');
  return path.join(os.homedir(), '.local', 'state', 'datapath-lab');
}

/** Why `dir` may not hold this user's state, or undefined when it may. */
export function stateDirProblem(dir: string): string | undefined {
  let st;
  try {
    st = lstatSync(dir);
  } catch (e) {
    return `cannot inspect it: ${(e as Error).message}`;
  }
  if (st.isSymbolicLink()) return 'it is a symbolic link (someone could point it anywhere)';
  if (!st.isDirectory()) return 'it is not a directory';
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) return `it is owned by uid ${st.uid}, not by you (uid ${uid})`;
  if (st.mode & 0o022) return `it is writable by ${st.mode & 0o002 ? 'everyone' : 'its group'} (mode ${(st.mode & 0o777).toString(8)}; chmod 700 it)`;
  return undefined;
}

/**
 * The state folder, created 0700 when missing, refused (StateError, exit 3) when it exists and
 * is not safely this user's. Every read or write of state goes through here first.
 */
export function ensureStateDir(): string {
  const dir = stateRoot();
  try {
    mkdirSync(path.dirname(dir), { recursive: true, mode: 0o700 });
    mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new StateError(`cannot create the lab state folder ${dir}: ${(e as Error).message}`);
  }
  const why = stateDirProblem(dir);
  if (why) throw new StateError(`refusing the lab state folder ${dir}: ${why}. Remove it, or set DL_STATE_DIR to a folder of your own.`);
  return dir;
}

/** The state folder if it exists and is safe, else undefined (for read-only verbs: status). */
export function existingStateDir(): string | undefined {
  const dir = stateRoot();
  try {
    lstatSync(dir);
  } catch {
    return undefined;
  }
  return ensureStateDir();
}
