// Options checked before anything runs: a bad number, a range, an output that cannot be written
// or a capture "filter" that is really tcpdump options is a usage error (exit 2) saying what was
// expected — never a run that ends early, silently does nothing, or fails after all its work.
import { accessSync, constants, lstatSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import { EXIT, LabError } from './errors.ts';

const usage = (msg: string) => new LabError(msg, EXIT.usage);

/** A whole number in [min, max] given as text (commander hands options over as strings). */
export function wholeNumber(option: string, value: string, min: number, max: number): number {
  if (!/^[0-9]+$/.test(value) || Number(value) < min || Number(value) > max) throw usage(`${option}: "${value}" is not a whole number from ${min} to ${max}`);
  return Number(value);
}

/** A timeout in seconds, as milliseconds. */
export function timeoutMs(option: string, value: string, maxSeconds = 24 * 3600): number {
  return wholeNumber(option, value, 1, maxSeconds) * 1000;
}

function lstatOrUndefined(target: string): Stats | undefined {
  try {
    return lstatSync(target);
  } catch {
    return undefined;
  }
}

/** Where a report will be written: a file (or a directory) that can be created or replaced. */
export function writableOutput(option: string, target: string, kind: 'file' | 'directory' = 'file'): string {
  let st;
  // A symbolic link is never written through: as root that could replace another user's file.
  if (lstatOrUndefined(target)?.isSymbolicLink()) throw usage(`${option}: ${target} is a symbolic link; give the file itself (or a new name)`);
  try {
    st = statSync(target);
  } catch { /* does not exist yet: its folder must */ }
  if (st) {
    if (kind === 'file' && !st.isFile()) throw usage(`${option}: ${target} exists and is not a regular file`);
    if (kind === 'directory' && !st.isDirectory()) throw usage(`${option}: ${target} exists and is not a directory`);
    try {
      accessSync(target, constants.W_OK);
    } catch {
      throw usage(`${option}: ${target} is not writable`);
    }
    return target;
  }
  const parent = path.dirname(path.resolve(target));
  try {
    if (!statSync(parent).isDirectory()) throw new Error('not a directory');
    accessSync(parent, constants.W_OK);
  } catch {
    throw usage(`${option}: cannot create ${target}: its folder ${parent} does not exist or is not writable`);
  }
  return target;
}

/**
 * `lab capture` takes a tcpdump filter expression (pcap-filter(7)), not tcpdump options: an
 * argument starting with "-" (e.g. -w FILE, -z CMD) is refused, as is a control character.
 * https://www.tcpdump.org/manpages/pcap-filter.7.html
 */
export function captureFilter(iface: string, filter: string[]): void {
  if (!/^[A-Za-z0-9_.:@-]{1,15}$/.test(iface) || iface.startsWith('-')) throw usage(`capture: "${iface}" is not an interface name`);
  const opt = filter.find((w) => w.startsWith('-'));
  if (opt !== undefined) throw usage(`capture: "${opt}" is a tcpdump option; capture takes a filter expression only (e.g. tcp port 80)`);
  // eslint-disable-next-line no-control-regex
  const ctl = filter.find((w) => /[\x00-\x1f\x7f]/.test(w));
  if (ctl !== undefined) throw usage(`capture: the filter has a control character: ${JSON.stringify(ctl)}`);
}
