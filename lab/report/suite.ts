// Reporters for `lab test`: pretty (terminal), json, junit (what GitHub, GitLab and Jenkins
// display: one <testcase> per scenario) and tap (TAP version 13, KTAP-compatible).
import type { ScenarioReport } from '../run.ts';
import { green, red, renderScenario } from './terminal.ts';
import { scenarioJson } from './terminal.ts';
import { oneLine } from './escape.ts';

export type ReporterName = 'pretty' | 'json' | 'junit' | 'tap';

function xml(s: string): string {
  // Escape, and drop characters XML 1.0 forbids (control characters from tool output).
  return s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function failures(r: ScenarioReport): string[] {
  if (r.error) return [r.error];
  return r.probes.flatMap((p) => p.checks.filter((c) => !c.passed).map((c) => `${p.name}: ${c.name}: expected ${c.expected}, observed ${c.observed}`));
}

export function junit(results: ScenarioReport[]): string {
  const families = [...new Set(results.map((r) => r.family))];
  const out = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const total = (rs: ScenarioReport[]) => rs.reduce((a, r) => a + r.timings.total, 0) / 1000;
  out.push(`<testsuites name="datapath-lab" tests="${results.length}" failures="${results.filter((r) => !r.passed && !r.error).length}" errors="${results.filter((r) => r.error).length}" time="${total(results).toFixed(3)}">`);
  for (const f of families) {
    const rs = results.filter((r) => r.family === f);
    out.push(`  <testsuite name="${xml(f)}" tests="${rs.length}" failures="${rs.filter((r) => !r.passed && !r.error).length}" errors="${rs.filter((r) => r.error).length}" skipped="0" time="${total(rs).toFixed(3)}">`);
    for (const r of rs) {
      out.push(`    <testcase classname="datapath-lab.${xml(f)}" name="${xml(`${r.id}: ${r.title}`)}" time="${(r.timings.total / 1000).toFixed(3)}">`);
      out.push(`      <properties><property name="runner" value="${xml(r.runner)}"/><property name="kernel" value="${xml(r.kernel)}"/></properties>`);
      const fails = failures(r);
      if (r.error) out.push(`      <error type="run" message="${xml(r.error.split('\n')[0]!)}">${xml(r.error)}</error>`);
      else if (!r.passed) out.push(`      <failure type="expectation" message="${xml(fails[0] ?? 'failed')}">${xml(fails.join('\n'))}</failure>`);
      out.push(`      <system-out>${xml(renderScenario(r, true).replace(/\x1b\[[0-9;]*m/g, ''))}</system-out>`);
      out.push('    </testcase>');
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return out.join('\n') + '\n';
}

export function tap(results: ScenarioReport[]): string {
  const out = ['TAP version 13', `1..${results.length}`];
  results.forEach((r, i) => {
    out.push(`${r.passed ? 'ok' : 'not ok'} ${i + 1} - ${oneLine(`${r.id}: ${r.title}`)}`);
    const f = failures(r);
    if (f.length) {
      out.push('  ---', `  runner: ${r.runner}`, '  failures:');
      for (const x of f) out.push(`    - ${JSON.stringify(x)}`); // JSON escapes control characters
      out.push('  ...');
    }
  });
  out.push(`# pass ${results.filter((r) => r.passed).length}`, `# fail ${results.filter((r) => !r.passed).length}`);
  return out.join('\n') + '\n';
}

export function pretty(results: ScenarioReport[]): string {
  const out: string[] = [];
  for (const r of results.filter((x) => !x.passed)) out.push(renderScenario(r, false), '');
  for (const r of results) out.push(`${r.passed ? green('PASS') : red('FAIL')} ${r.id.padEnd(18)} ${r.runner.padEnd(6)} ${(r.timings.total / 1000).toFixed(1).padStart(6)} s  ${oneLine(r.title)}`);
  const failed = results.filter((r) => !r.passed).length;
  out.push('', `${results.length - failed} passed, ${failed} failed`);
  return out.join('\n') + '\n';
}

export function renderSuite(name: ReporterName, results: ScenarioReport[]): string {
  switch (name) {
    case 'json': return JSON.stringify(results.map(scenarioJson), null, 2) + '\n';
    case 'junit': return junit(results);
    case 'tap': return tap(results);
    default: return pretty(results);
  }
}
