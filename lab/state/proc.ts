// Processes named in state are acted on only when they are the very process recorded: same pid
// and same start time (field 22 of /proc/<pid>/stat, clock ticks since boot). A pid reused by
// another program after a reboot or a wrap-around has another start time and is left alone.
// https://man7.org/linux/man-pages/man5/proc_pid_stat.5.html
import { readFileSync } from 'node:fs';

/** The fields of /proc/<pid>/stat from field 3 (state) on — index i holds field i + 3 — or
 *  undefined when there is no such process. comm (field 2) may hold spaces and parentheses:
 *  the fields resume after its last ')'. */
export function statFields(pid: number): string[] | undefined {
  if (!Number.isSafeInteger(pid) || pid <= 1) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** The start time of a live process, or undefined when there is none with that pid. */
export function procStartTime(pid: number): string | undefined {
  const start = statFields(pid)?.[22 - 3];
  return start && /^[0-9]+$/.test(start) ? start : undefined;
}

/** A process recorded in state: pid and start time. */
export interface RecordedProcess {
  pid: number;
  start: string;
}

export function selfRecord(): RecordedProcess {
  return { pid: process.pid, start: procStartTime(process.pid) ?? '0' };
}

/** True when the recorded process is still the one running under its pid. */
export function isRunning(p: RecordedProcess | undefined): p is RecordedProcess {
  return !!p && procStartTime(p.pid) === p.start;
}

/** Sends a signal to the recorded process only; false when it is gone or is someone else. */
export function signalRecorded(p: RecordedProcess | undefined, sig: NodeJS.Signals): boolean {
  if (!isRunning(p)) return false;
  try {
    process.kill(p.pid, sig);
    return true;
  } catch {
    return false;
  }
}
