// The order the agent runs a plan's steps in (lab/runners/execution.ts): each namespace's `ip` link
// and config batches become one batch, and a namespace's batch comes after every batch that makes a
// device in it; the plan itself keeps its phases; a cycle keeps the plan's order.
import test from 'ava';
import path from 'node:path';
import { compileScenario } from '../../lab/compile.ts';
import type { Plan, Step } from '../../lab/plan.ts';
import { executionSteps } from '../../lab/runners/execution.ts';
import { loadTopology, TOPOLOGY_DIR } from '../../lab/topology/load.ts';

const plan = (family: string, id: string): Plan => {
  const topo = loadTopology(path.join(TOPOLOGY_DIR, `${family}.yaml`));
  return compileScenario(topo, topo.scenarios.find((s) => s.id === id)!, 'test01').plan;
};
const ipSteps = (steps: Step[]) => steps.filter((s) => s.tool === 'ip' && s.object !== null && (s.phase === 'link' || s.phase === 'config'));

for (const [family, id] of [['eniip', 'eniip-5'], ['ipvlan', 'ipvlan-5'], ['trunk', 'trunk-2-vlan'], ['kproxy', 'calico-1']] as const) {
  test(`${id}: one ip batch per namespace, after the batches that make its devices, same lines`, (t) => {
    const p = plan(family, id);
    const run = executionSteps(p);
    const before = ipSteps(p.steps);
    const after = ipSteps(run);
    const objects = new Set(before.map((s) => s.object!));
    t.is(after.length, objects.size, 'one batch per namespace');
    t.true(after.length < before.length, `${after.length} batches from ${before.length}`);
    // Every line still runs, once, and within a namespace links come before its config.
    t.deepEqual(after.flatMap((s) => s.lines!).sort(), before.flatMap((s) => s.lines!).sort());
    for (const s of after) {
      const own = before.filter((b) => b.object === s.object);
      t.deepEqual(s.lines, [...(own.find((b) => b.phase === 'link')?.lines ?? []), ...(own.find((b) => b.phase === 'config')?.lines ?? [])]);
    }
    // A namespace's batch runs after every batch that moves a device into it ("… netns <ns>").
    const pos = new Map(after.map((s, i) => [s.object!, i]));
    const objOf = new Map(p.namespaces.map((n) => [n.ns, n.object]));
    for (const s of after) {
      for (const line of s.lines!) {
        const m = /\bnetns (\S+)/.exec(line);
        const target = m ? objOf.get(m[1]!) : undefined;
        if (target && target !== s.object) t.true(pos.get(s.object!)! < pos.get(target)!, `${s.object} makes a device in ${target}: ${line}`);
      }
    }
    // The steps around the ip batches are the plan's, in the plan's order.
    t.deepEqual(run.filter((s) => !after.includes(s)), p.steps.filter((s) => !before.includes(s)));
  });
}

test('a cycle of namespaces making devices in each other keeps the plan\'s order', (t) => {
  const p = plan('eniip', 'eniip-5');
  const [a, b] = p.namespaces;
  const steps: Step[] = [
    { phase: 'link', object: a!.object, tool: 'ip', lines: [`link add x type veth peer name y netns ${b!.ns}`] },
    { phase: 'link', object: b!.object, tool: 'ip', lines: [`link add u type veth peer name v netns ${a!.ns}`] },
    { phase: 'config', object: a!.object, tool: 'ip', lines: ['link set x up'] },
    { phase: 'config', object: b!.object, tool: 'ip', lines: ['link set u up'] },
  ] as Step[];
  const cyclic = { ...p, steps };
  t.is(executionSteps(cyclic), steps);
});
