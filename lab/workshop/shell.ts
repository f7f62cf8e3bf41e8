// `lab shell OBJECT`: a terminal in an object's network namespace of a lab that is up — natively
// and inside a UML guest — with job control, Ctrl-C for the foreground job, a working directory
// that stays, and nothing left running when it ends (every process of its session is killed).
// When stdin is not a terminal the shell reads its commands from stdin (`bash -s`), same clean-up.
import { EXIT, LabError } from '../errors.ts';
import { objectNs, type LabState } from '../interactive.ts';
import { readJournal } from '../state/journal.ts';
import { nativeShell } from './shell-native.ts';
import { umlPipe, umlTerminal } from './shell-uml.ts';

/** The object's namespace, only when the lab's journal says the lab made it (not a lookalike name). */
function journalledNamespace(s: LabState, object: string): string {
  const ns = objectNs(s, object);
  const j = readJournal(s.jobDir, s.labId);
  if (!j.entries.some((e) => e.kind === 'netns' && e.name === ns)) {
    throw new LabError(`lab ${s.labId}'s journal has no namespace ${ns} for "${object}": not opening a shell there`, EXIT.infra);
  }
  return ns;
}

export async function shell(s: LabState, object: string): Promise<number> {
  const ns = journalledNamespace(s, object);
  const terminal = process.stdin.isTTY === true;
  if (s.runner === 'uml') return terminal ? umlTerminal(s, object, ns) : umlPipe(s, object, ns);
  return nativeShell(s, object, ns, terminal);
}
