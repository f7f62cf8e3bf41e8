// Runner selection: `auto` picks native when we are root and the host kernel has every
// feature the plan needs, else uml; when none can serve, NoRunnerError (exit 3) says why.
import { NoRunnerError } from '../errors.ts';
import { docker } from './docker.ts';
import { native } from './native.ts';
import type { Runner, RunnerName } from './types.ts';
import { uml } from './uml.ts';

export const RUNNERS: Record<RunnerName, Runner> = { native, uml, docker };

export async function selectRunner(wanted: RunnerName | 'auto', features: Set<string>): Promise<Runner> {
  const order: Runner[] = wanted === 'auto' ? [native, uml] : [RUNNERS[wanted]];
  const reasons: string[] = [];
  for (const r of order) {
    const a = await r.available(features);
    if (a.ok) return r;
    reasons.push(`${r.name}: ${a.reason}${a.fix ? ` (fix: ${a.fix})` : ''}`);
  }
  throw new NoRunnerError(`no runner can serve this scenario here:\n  ${reasons.join('\n  ')}`);
}
