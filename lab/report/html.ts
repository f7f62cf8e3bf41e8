// --reporter html: one self-contained page per run — diagram (inline SVG), checks, evidence,
// observed paths and the packets captured on every interface. No external resources.
import type { ScenarioReport } from '../run.ts';
import { mermaid, svg } from './diagram.ts';
import { pathMermaid, pathSvg } from './path.ts';
import { overlayOf } from './topology.ts';

const bareSvg = (x: string) => x.replace(/^<\?xml[^>]*>\s*(<!DOCTYPE[^>]*>\s*)?/, '');

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function html(r: ScenarioReport): string {
  let picture = '';
  if (r.plan) {
    const k = r.probes.findIndex((p) => p.path.length);
    const hops = r.probes[k]?.path ?? [];
    try {
      picture = bareSvg(svg(r.plan, r.stories?.[k] ? overlayOf(r.stories[k]) : hops));
    } catch {
      picture = `<pre class="mermaid">${esc(mermaid(r.plan, hops))}</pre>`;
    }
  }
  const pathPicture = (k: number) => {
    const st = r.stories?.[k];
    if (!st || (!st.request.length && st.verdict.kind !== 'dropped')) return '';
    let pic: string;
    try {
      pic = bareSvg(pathSvg(st));
    } catch {
      pic = `<pre class="mermaid">${esc(pathMermaid(st))}</pre>`;
    }
    return `<p class="verdict-line ${st.verdict.kind}">${esc(st.verdict.summary)}</p><div class="path-picture">${pic}</div>`;
  };
  const checks = r.probes.map((p, k) => `
  <section class="probe">
    <h2>${esc(p.name)}: ${esc(p.from)} → ${esc(p.to)} <small>(${esc(p.target)})${p.answeredBy ? ` — answered by ${esc(p.answeredBy)}` : ''}</small></h2>
    ${pathPicture(k)}
    <table class="checks"><thead><tr><th></th><th>check</th><th>expected</th><th>observed</th></tr></thead><tbody>
    ${p.checks.map((c) => `<tr class="${c.passed ? 'pass' : 'fail'}"><td>${c.passed ? 'PASS' : 'FAIL'}</td><td>${esc(c.name)}${c.evidence.length ? `<details><summary>evidence</summary><pre>${esc(c.evidence.join('\n'))}</pre></details>` : ''}</td><td>${esc(c.expected)}</td><td>${esc(c.observed)}</td></tr>`).join('\n    ')}
    </tbody></table>
    ${p.path.length ? `<h3>Observed request path (${p.stacks} stacks)</h3><ol class="path">${p.path.map((h) => `<li><code>${esc(h.label)}</code> ${h.dir} ${esc(h.src)} → ${esc(h.dst)}${h.vlan !== undefined ? ` vlan ${h.vlan}` : ''} <span class="kind">${h.kind}</span></li>`).join('')}</ol>` : ''}
    ${p.replyPath.length ? `<details><summary>reply path</summary><ol class="path">${p.replyPath.map((h) => `<li><code>${esc(h.label)}</code> ${h.dir} ${esc(h.src)} → ${esc(h.dst)}</li>`).join('')}</ol></details>` : ''}
    ${p.captures?.length ? `<h3>Captured packets per interface</h3><input class="filter" placeholder="filter packets, e.g. 10.0.3.58">${p.captures.map((c) => `<details class="capture"><summary><code>${esc(c.iface)}</code> — ${c.lines.length} packet(s)</summary><pre>${c.lines.map((l) => `<span class="pkt">${esc(l)}</span>`).join('\n')}</pre></details>`).join('\n')}` : ''}
  </section>`).join('\n');
  const failed = r.probes.flatMap((p) => p.checks).filter((c) => !c.passed).length;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(r.id)} — datapath-lab</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem;max-width:1200px;color:#222}
h1{font-size:1.4rem}.verdict{padding:.2rem .6rem;border-radius:4px;color:#fff}.verdict.pass{background:#2ca02c}.verdict.fail{background:#d62728}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
tr.pass td:first-child{color:#2ca02c;font-weight:bold}tr.fail td:first-child{color:#d62728;font-weight:bold}tr.fail{background:#fff1f0}
pre{background:#f7f7f7;padding:.5rem;overflow:auto;font-size:12px}.kind{color:#888;font-size:12px}.diagram svg{max-width:100%;height:auto}
.pkt.hidden{display:none}.path-picture svg{max-width:100%;height:auto}.verdict-line{font-weight:bold}.verdict-line.delivered{color:#2ca02c}.verdict-line.dropped,.verdict-line.unknown{color:#d62728}
</style></head>
<body data-rendered="no">
<h1>${esc(r.id)}: ${esc(r.title)} <span class="verdict ${r.passed ? 'pass' : 'fail'}">${r.passed ? 'PASSED' : 'FAILED'}</span></h1>
<p>family ${esc(r.family)} · runner ${esc(r.runner)} · kernel ${esc(r.kernel)} · ${(r.timings.total / 1000).toFixed(1)} s (boot ${r.timings.boot} ms, build ${r.timings.build} ms, probe ${r.timings.probe} ms, teardown ${r.timings.teardown} ms)</p>
${r.error ? `<pre class="error">${esc(r.error)}</pre>` : ''}
<div class="diagram">${picture}</div>
${checks}
<p id="summary"></p>
<script>
// Counts come from the page itself (what the reader sees), and the packet filter needs no server.
const rows = document.querySelectorAll('table.checks tbody tr');
const bad = document.querySelectorAll('table.checks tbody tr.fail');
document.getElementById('summary').textContent = (rows.length - bad.length) + ' of ' + rows.length + ' checks passed';
for (const input of document.querySelectorAll('input.filter')) {
  input.addEventListener('input', () => {
    for (const s of input.parentElement.querySelectorAll('.pkt')) s.classList.toggle('hidden', !s.textContent.includes(input.value));
  });
}
document.body.dataset.rendered = 'ok';
document.body.dataset.failed = String(bad.length);
</script>
<!-- ${failed} failed check(s) -->
</body></html>
`;
}

/** The index of a `lab test --reporter html` directory. */
export function htmlIndex(results: ScenarioReport[]): string {
  const rows = results.map((r) => `<tr class="${r.passed ? 'pass' : 'fail'}"><td>${r.passed ? 'PASS' : 'FAIL'}</td><td><a href="${esc(r.id)}.html">${esc(r.id)}</a></td><td>${esc(r.family)}</td><td>${esc(r.runner)}</td><td>${(r.timings.total / 1000).toFixed(1)} s</td><td>${esc(r.title)}</td></tr>`).join('\n');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>datapath-lab results</title>
<style>body{font:14px system-ui,sans-serif;margin:2rem}table{border-collapse:collapse}td,th{padding:.3rem .6rem;border-bottom:1px solid #ddd;text-align:left}tr.pass td:first-child{color:#2ca02c}tr.fail td:first-child{color:#d62728}</style></head>
<body><h1>datapath-lab: ${results.filter((r) => r.passed).length} of ${results.length} scenarios passed</h1>
<table><thead><tr><th></th><th>scenario</th><th>family</th><th>runner</th><th>time</th><th>title</th></tr></thead><tbody>
${rows}
</tbody></table></body></html>
`;
}
