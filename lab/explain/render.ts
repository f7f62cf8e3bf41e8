// A story as text: the verdict first, then every hop with how the packet got there, what decided
// it and each rewrite before → after with the object that did it; the reply where it differs or
// was rewritten. `extra` lets live `explain` add the kernel's own answers (ip route get) per hop.
import { bold, dim, green, red } from '../report/terminal.ts';
import type { Rewrite, Step, Story } from './story.ts';

export function verdictLine(s: Story): string {
  const v = s.verdict;
  if (v.kind === 'delivered') return green(v.summary);
  if (v.kind === 'dropped') return red(v.summary);
  return red(v.summary);
}

export function rewriteLine(w: Rewrite): string {
  const what = w.field === 'dst' ? 'destination' : 'source';
  return `${bold(`${w.by}`)} in ${w.object}: ${what} ${w.before} → ${w.after}${w.note ? ` (${w.note})` : ''}\n        by ${w.rule}`;
}

export function renderSteps(steps: Step[], extra?: (i: number) => string[]): string[] {
  const out: string[] = [];
  steps.forEach((st, i) => {
    const h = st.hop;
    out.push(`  ${String(i + 1).padStart(2)}. ${h.label} ${h.dir} ${h.src} → ${h.dst}${h.vlan !== undefined ? ` vlan ${h.vlan}` : ''} ${dim(`[${h.kind}]`)}`);
    if (st.how && st.how !== 'sent') out.push(dim(`      ${st.how}`));
    if (st.decidedBy) out.push(`      decided by: ${st.decidedBy}`);
    for (const w of st.rewrites) out.push(`      ${rewriteLine(w)}`);
    for (const l of extra?.(i) ?? []) out.push(`      ${l}`);
  });
  return out;
}

export function renderStory(s: Story, expectedPath?: string[], extra?: (i: number) => string[]): string[] {
  const out: string[] = [bold(`${s.probe}: ${s.from} → ${s.to} (${s.target})`)];
  out.push(`  verdict: ${verdictLine(s)}`);
  if (s.verdict.kind === 'dropped') for (const e of s.verdict.evidence.slice(0, 4)) out.push(dim(`    | ${e}`));
  if (s.verdict.kind === 'unknown') out.push(dim(`    why: ${s.verdict.why}`));
  if (expectedPath) out.push(`  the article's path: ${expectedPath.join(' → ')}`);
  if (s.request.length) {
    out.push('  request, hop by hop (from the captures):');
    out.push(...renderSteps(s.request, extra));
  }
  const rewritten = s.reply.some((x) => x.rewrites.length);
  if (s.reply.length && (s.replyDiffers || rewritten)) {
    out.push(`  reply, hop by hop${s.replyDiffers ? ' — it takes another way than the request' : ''}:`);
    out.push(...renderSteps(s.reply));
  } else if (s.reply.length) out.push(`  reply: back the same way (${s.reply.length} captures)`);
  if (s.stacks.length) out.push(`  stacks crossed: ${s.stacks.length} (${s.stacks.join(', ')})`);
  return out;
}
