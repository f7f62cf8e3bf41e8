// The terminal report: every expectation with expected, observed and pass/fail, the verdict
// (lab/explain/verdict.ts), then the observed path, hop by hop, with the addresses as they were on
// the wire and each rewrite (★) where it happened; the reply's way when it differs.
import type { ProbeResult } from '../checks/analyze.ts';
import type { Story } from '../explain/story.ts';
import type { ScenarioReport } from '../run.ts';
import { printableDeep } from './escape.ts';

const color = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: string, s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
export const green = (s: string) => paint('32', s);
export const red = (s: string) => paint('31', s);
export const dim = (s: string) => paint('2', s);
export const bold = (s: string) => paint('1', s);

export function renderScenario(report: ScenarioReport, verbose = false): string {
  const r = printableDeep(report); // no control character from a title, reply or tool reaches the terminal raw
  const out: string[] = [];
  out.push(bold(`${r.id}: ${r.title}`));
  out.push(dim(`runner ${r.runner}, kernel ${r.kernel}, ${(r.timings.total / 1000).toFixed(1)} s (boot ${r.timings.boot} ms, build ${r.timings.build} ms, probe ${r.timings.probe} ms, teardown ${r.timings.teardown} ms)`));
  if (r.error) out.push(red(`ERROR: ${r.error}`));
  for (const [k, p] of r.probes.entries()) {
    out.push('');
    out.push(...renderProbe(p, r.stories?.[k], verbose));
  }
  out.push('');
  out.push(r.passed ? green(`${r.id}: PASSED`) : red(`${r.id}: FAILED`));
  return out.join('\n');
}

/** One probe as every verb prints it (scenario, check, probe): the verdict, each check, the observed
 *  path with its rewrites, the reply's way when it differs. */
export function renderProbe(probe: ProbeResult, storyIn?: Story, verbose = false): string[] {
  const p = printableDeep(probe);
  const story = printableDeep(storyIn);
  const out: string[] = [];
  out.push(`${bold(p.name)}: ${p.from} → ${p.to} (${p.target})${p.answeredBy ? ` — answered by ${p.answeredBy}` : ''}`);
  if (story) out.push(`  verdict: ${story.verdict.kind === 'delivered' ? green(story.verdict.summary) : red(story.verdict.summary)}`);
  for (const c of p.checks) {
    out.push(`  ${c.passed ? green('PASS') : red('FAIL')} ${c.name}`);
    out.push(`       expected: ${c.expected}`);
    out.push(`       observed: ${c.observed}`);
    if ((verbose || !c.passed) && c.evidence.length) for (const e of c.evidence.slice(0, 8)) out.push(dim(`         | ${e}`));
  }
  if (p.path.length) {
    out.push('  observed path (request):');
    for (const [i, h] of p.path.entries()) {
      out.push(`    ${h.dir === 'Out' ? '→' : '⇢'} ${h.label} ${dim(`${h.dir} ${h.src} > ${h.dst}${h.vlan !== undefined ? ` vlan ${h.vlan}` : ''} [${h.kind}]`)}`);
      for (const w of story?.request[i]?.rewrites ?? []) out.push(bold(`        ★ ${w.by} in ${w.object}: ${w.field === 'dst' ? 'destination' : 'source'} ${w.before} → ${w.after}`));
    }
    if (story?.replyDiffers) out.push(`  reply (another way): ${story.reply.map((x) => x.hop).filter((h, i, a) => i === 0 || h.object !== a[i - 1]!.object || h.ifname !== a[i - 1]!.ifname).map((h) => `${h.object}:${h.ifname}`).join(' → ')}`);
    out.push(`  stacks crossed: ${p.stacks}`);
  }
  if (p.bulk) out.push(`  connections: ${p.bulk.answered}/${p.bulk.total} answered; per backend: ${Object.entries(p.bulk.perBackend).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  return out;
}

/** The --json document. */
export function scenarioJson(r: ScenarioReport) {
  return {
    id: r.id,
    labId: r.labId,
    title: r.title,
    family: r.family,
    runner: r.runner,
    kernel: r.kernel,
    passed: r.passed,
    error: r.error,
    timings: r.timings,
    checks: r.probes.flatMap((p) => p.checks.map((c) => ({ probe: p.name, name: c.name, expected: c.expected, observed: c.observed, passed: c.passed, evidence: c.evidence }))),
    probes: r.probes.map(probeJson),
  };
}

/** One probe in the --json documents (scenario, check, probe). */
export function probeJson(p: ProbeResult) {
  return {
    name: p.name, from: p.from, to: p.to, target: p.target, reachable: p.reachable, answeredBy: p.answeredBy, stacks: p.stacks,
    path: p.path.map((h) => ({ hop: h.label, dir: h.dir, src: h.src, dst: h.dst, vlan: h.vlan, kind: h.kind })),
    replyPath: p.replyPath.map((h) => ({ hop: h.label, dir: h.dir, src: h.src, dst: h.dst, vlan: h.vlan, kind: h.kind })),
    attempts: p.attempts, bulk: p.bulk,
  };
}
