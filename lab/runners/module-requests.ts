// The kernel modules a UML guest's kernel asked for by itself during a run: the module-request
// hook (native/dlinit.c, `dlinit -q -- NAME` as /proc/sys/kernel/modprobe) appends one line
// "TIME<TAB>NAME" to the job's out/module-requests and then runs the real modprobe for it, or
// answers at once and marks the line: "<TAB>loaded" (loaded already, or built in), "<TAB>nomodule"
// (no module provides the name: modprobe would fail). A plan whose module list (lab/features.ts,
// the compilers' b.module) is complete makes only marked requests: each other one costs a
// usermode-helper process and a modprobe (~100–200 ms in the guest) on the critical path of the
// step that caused it. The run still works: this is for the tests and the
// bench, not a verdict.
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const MODULE_REQUESTS = 'module-requests';

export interface ModuleRequest {
  name: string;
  /** Answered by the hook at once (no modprobe): loaded already or built in, or no module has the name. */
  answered?: 'loaded' | 'nomodule';
}

/** Every request, in order (empty when the file is absent: no request, or no hook). */
export function readModuleRequests(jobDir: string): ModuleRequest[] {
  let text: string;
  try {
    text = readFileSync(path.join(jobDir, 'out', MODULE_REQUESTS), 'utf8');
  } catch {
    return [];
  }
  return parseModuleRequests(text);
}

/** Lines "TIME<TAB>NAME[<TAB>loaded|nomodule]"; a line without a name is skipped (a torn write). */
export function parseModuleRequests(text: string): ModuleRequest[] {
  const out: ModuleRequest[] = [];
  for (const line of text.split('\n')) {
    const [, name, mark] = line.split('\t').map((f) => f.trim());
    if (!name) continue;
    out.push(mark === 'loaded' || mark === 'nomodule' ? { name, answered: mark } : { name });
  }
  return out;
}

/** The names of the modules the kernel had to have loaded for it, once each: gaps in the plan's list. */
export function missingModules(requests: ModuleRequest[]): string[] {
  return [...new Set(requests.filter((r) => !r.answered).map((r) => r.name))];
}
