// Shared by every scenario test (through assertScenario): the run that feeds the checks also
// feeds the explanation and the pictures, so the whole catalogue is explained on every CI run at
// no extra cost. Each assertion compares the story with the run's own evidence: reachability,
// the server that answered, the captured hops, the checks' observations.
import type { ExecutionContext } from 'ava';
import { renderStory } from '../../lab/explain/render.ts';
import type { Story } from '../../lab/explain/story.ts';
import { tcOn } from '../../lab/explain/tc.ts';
import type { ScenarioReport } from '../../lab/run.ts';
import { dot } from '../../lab/report/diagram.ts';
import { lanes, pathMermaid, pathSvg, pathTerminal } from '../../lab/report/path.ts';
import { overlayOf } from '../../lab/report/topology.ts';
import type { Scenario } from '../../lab/model.ts';

export function assertStories(t: ExecutionContext, report: ScenarioReport, scenario: Scenario): void {
  const id = report.id;
  t.is(report.stories?.length, report.probes.length, `${id}: one story per probe`);
  report.probes.forEach((p, k) => {
    const s = report.stories![k]!;
    const where = `${id} ${p.name}`;
    const v = s.verdict;
    const expect = scenario.probes.find((x) => x.name === p.name)?.expect;
    if (p.bulk) {
      t.is(v.kind, p.reachable ? 'delivered' : 'unknown', `${where}: bulk verdict ${v.summary}`);
      return;
    }
    // The hops are the captured path, in order.
    t.deepEqual(s.request.map((x) => x.hop), p.path, `${where}: story hops are the captured request path`);
    t.deepEqual(s.reply.map((x) => x.hop), p.replyPath, `${where}: story reply hops are the captured reply path`);
    if (p.reachable) {
      t.is(v.kind, 'delivered', `${where}: reachable, verdict ${v.summary}`);
      if (v.kind === 'delivered') {
        t.is(v.object, p.answeredBy ?? "", `${where}: delivered to the server that answered`);
        t.true(p.path.some((h) => h.object === p.answeredBy && h.dir === 'In' && h.label === v.at), `${where}: delivered at a captured arrival (${v.at})`);
      }
    } else {
      t.is(v.kind, 'dropped', `${where}: unreachable, verdict ${v.summary}`);
      t.notRegex(renderStory(s).join('\n'), /delivered/, `${where}: an unreachable probe is never "delivered"`);
      if (v.kind === 'dropped') {
        const last = (v.packet === 'reply' ? p.replyPath : p.path).at(-1);
        t.truthy(last, `${where}: the dropped packet was captured`);
        t.true(last!.object === v.object || last!.dir === 'Out', `${where}: dropped where it was last captured (${last!.label}), not at ${v.object}`);
        const sg = expect?.droppedBy;
        if (sg) {
          t.is(v.object, sg.at.split(":")[0] ?? "", `${where}: the security group's vSwitch`);
          t.regex(v.by, new RegExp(`security group ${sg.group}`), `${where}: names the group that dropped it`);
          t.is(v.packet, sg.packet === 'reply' ? 'reply' : 'request');
        }
        const emptyVs = (expect?.ipvs ?? []).find((x) => x.backends.length === 0 && x.node === v.object);
        if (emptyVs) t.regex(v.by, /IPVS virtual server \S+ in \S+ has no real server/, `${where}: IPVS without real server`);
        // What the checks observed about the drop agrees (a failing SG check would show here).
        const sgCheck = p.checks.find((c) => c.name.startsWith('dropped by security group'));
        if (sgCheck) t.true(sgCheck.passed, `${where}: the drop check itself holds`);
      }
    }
    // Every rewrite is named: the object that did it was found in the evidence.
    for (const w of [...s.request, ...s.reply].flatMap((x) => x.rewrites)) {
      t.not(w.by, 'unknown', `${where}: rewrite ${w.field} ${w.before} → ${w.after} in ${w.object}: ${w.rule}`);
    }
    // A translation made by the client's tc egress program before the tap is in the story.
    const first = p.path[0];
    if (first && report.plan && tcOn(report.plan, first.object, first.ifname, 'egress', 'ebpf').length && first.dst !== p.target.split(':')[0]) {
      const w = s.request[0]!.rewrites.find((x) => x.by === 'eBPF');
      t.truthy(w, `${where}: the eBPF translation on ${first.label} is a hop of the story`);
      t.regex(w?.rule ?? '', /lb4_services_v2 \S+ \(rev-NAT id \d+\) → lb4_backends #\d+/, `${where}: names the map entry`);
    }
  });
}

export function storyText(stories: Story[]): string {
  return stories.map((s) => renderStory(s).join('\n')).join('\n\n');
}

/** The pictures drawn from the same stories: path pictures per probe and the topology with the path. */
export function assertPictures(t: ExecutionContext, report: ScenarioReport): void {
  if (!report.plan || !report.stories) return;
  for (const s of report.stories) {
    const where = `${report.id} ${s.probe}`;
    if (!s.request.length) continue;
    const m = pathMermaid(s);
    t.regex(m, /^sequenceDiagram\n/, where);
    for (const l of lanes(s)) t.true(m.includes(` as ${l}\n`), `${where}: lane ${l}`);
    for (const w of [...s.request, ...s.reply].flatMap((x) => x.rewrites)) t.true(m.includes(`${w.by}: ${w.field} ${w.before} → ${w.after}`), `${where}: mermaid shows ${w.by} ${w.before} → ${w.after}`);
    if (s.verdict.kind === 'dropped') t.regex(m, /-x\S+: ✗ /, `${where}: drop mark`);
    if (s.verdict.kind === 'delivered') t.regex(m, /✓ delivered at /, `${where}: delivery mark`);
    const svgText = pathSvg(s);
    t.regex(svgText, /<svg/, `${where}: Graphviz drew the path`);
    if (s.verdict.kind === 'dropped') t.true(svgText.includes('✗ dropped'), `${where}: the SVG path shows the drop`);
    const term = pathTerminal(s);
    t.true(term.includes(s.verdict.kind === 'delivered' ? '✓' : '✗'), `${where}: terminal picture marks the verdict`);
  }
  const k = report.stories.findIndex((s) => s.request.length);
  const topo = dot(report.plan, overlayOf(report.stories[k]));
  if (k >= 0 && new Set(report.stories[k]!.request.map((x) => x.hop.object)).size > 1) t.regex(topo, /color="#d62728",penwidth=3/, `${report.id}: the topology shows the request path`);
  const drop = report.stories.find((s) => s.verdict.kind === 'dropped' && s === report.stories![k]);
  if (drop) t.regex(topo, /✗ dropped:/, `${report.id}: the topology marks the drop`);
}
