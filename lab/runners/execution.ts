// The order in which the agent runs a plan's steps (lab/runners/job.ts writes them as the job).
import type { Phase, Plan, Step } from '../plan.ts';

/**
 * The steps as the agent runs them: the plan's, except that each namespace's `ip` link batch and
 * config batch become one batch (one `ip` process instead of two; a process costs 25-230 ms in
 * UML). Config ran after every link batch; merged, a namespace's batch runs after the batches of
 * every namespace that makes a device in it (`… netns <ns>` in their lines: veth peers, ipvlan
 * and vlan slaves), so each device exists before its namespace configures it. Namespaces keep
 * declaration order otherwise. When those dependencies form a cycle the plan's steps are kept as
 * they are. The plan itself (`lab plan`, the checks) keeps its phases.
 */
export function executionSteps(plan: Plan): Step[] {
  const isIp = (s: Step, phase: Phase) => s.tool === 'ip' && s.phase === phase && s.object !== null;
  const first = plan.steps.findIndex((s) => isIp(s, 'link') || isIp(s, 'config'));
  if (first < 0) return plan.steps;
  let end = first;
  while (end < plan.steps.length && (isIp(plan.steps[end]!, 'link') || isIp(plan.steps[end]!, 'config'))) end++;
  const span = plan.steps.slice(first, end);
  // Every link batch comes before every config batch in the span, and each object has at most one of each.
  const objects = [...new Set(span.map((s) => s.object!))];
  const linkOf = new Map(span.filter((s) => s.phase === 'link').map((s) => [s.object!, s]));
  const configOf = new Map(span.filter((s) => s.phase === 'config').map((s) => [s.object!, s]));
  if (linkOf.size + configOf.size !== span.length) return plan.steps;
  const nsOf = new Map(plan.namespaces.map((n) => [n.ns, n.object]));
  const after = new Map<string, Set<string>>(objects.map((o) => [o, new Set<string>()]));
  for (const s of span) {
    for (const line of s.lines!) {
      const w = line.split(/\s+/);
      for (let i = 0; i + 1 < w.length; i++) {
        const target = w[i] === 'netns' ? nsOf.get(w[i + 1]!) : undefined;
        if (target !== undefined && target !== s.object) {
          if (!after.has(target)) return plan.steps; // a device made in a namespace with no batch here
          after.get(target)!.add(s.object!);
        }
      }
    }
  }
  // Kahn's algorithm, always taking the first ready object in the order the config batches had.
  const order = [...configOf.keys(), ...objects.filter((o) => !configOf.has(o))];
  const done = new Set<string>();
  const merged: Step[] = [];
  while (merged.length < order.length) {
    const next = order.find((o) => !done.has(o) && [...after.get(o)!].every((d) => done.has(d)));
    if (next === undefined) return plan.steps; // a cycle: link batches first, then config, as planned
    done.add(next);
    const l = linkOf.get(next)?.lines ?? [];
    const c = configOf.get(next);
    merged.push({ ...(c ?? linkOf.get(next)!), phase: c ? 'config' : 'link', lines: [...l, ...(c?.lines ?? [])] });
  }
  return [...plan.steps.slice(0, first), ...merged, ...plan.steps.slice(end)];
}
