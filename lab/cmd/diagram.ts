// lab diagram: the topology as built with a run's request path over it, or (--path) each probe's
// path picture. Drawn from a run's saved report — the last `lab scenario ID` (or --from FILE) —
// so the picture shows the run the user just read; it runs the scenario only when there is none.
import { writeFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { locateScenario } from '../catalog.ts';
import { compileScenario } from '../compile.ts';
import { EXIT, LabError } from '../errors.ts';
import { dot, mermaid, svg } from '../report/diagram.ts';
import { pathDot, pathMermaid, pathSvg, pathTerminal } from '../report/path.ts';
import { loadReport, saveReport } from '../report/saved.ts';
import { overlayOf } from '../report/topology.ts';
import { runScenario, type ScenarioReport } from '../run.ts';
import { writableOutput } from '../options.ts';
import { fileOption, runnerOption, type RunnerChoice } from './options.ts';

interface DiagramOptions { file?: string; format: string; run: boolean; runner: RunnerChoice; output?: string; from?: string; path?: boolean; probe?: string; rerun?: boolean }

async function reportFor(id: string, o: DiagramOptions): Promise<ScenarioReport> {
  const saved = o.rerun ? undefined : loadReport(o.from ? { file: o.from } : { id });
  if (saved) {
    if (saved.id !== id) throw new LabError(`${o.from}: a report of ${saved.id}, not ${id}`, EXIT.usage);
    process.stderr.write(`lab: drawing ${o.from ?? `the last run of ${id}`} (${saved.runner}, ${(saved as { savedAt?: string }).savedAt ?? ''}); --rerun runs it again\n`);
    return saved;
  }
  const { topo, scenario } = locateScenario(id, o.file);
  process.stderr.write(`lab: no saved run of ${id}: running it\n`);
  const report = await runScenario(topo, scenario, { runner: o.runner });
  if (report.error) throw new LabError(report.error, EXIT.infra);
  saveReport(report);
  return report;
}

export function registerDiagram(program: Command): void {
  program.command('diagram')
    .description("the topology as built with a run's request path over it, or (--path) each probe's path picture; drawn from the last run of ID (runs it when there is none)")
    .argument('<id>', 'scenario id')
    .addOption(fileOption())
    .addOption(new Option('--format <format>', 'mermaid (renders on GitHub), svg (Graphviz), dot, text (--path only: compact, for a terminal)').choices(['mermaid', 'svg', 'dot', 'text']).default('mermaid'))
    .option('--path', "each probe's path picture (lanes per namespace, rewrites, reply, drop) instead of the topology")
    .option('--probe <n>', 'only probe n (1-based)')
    .option('--from <report.json>', 'draw this saved report (`lab scenario ID --save FILE`)')
    .option('--rerun', 'run the scenario again instead of drawing the last run')
    .option('--no-run', 'draw the topology as compiled, without any run')
    .addOption(runnerOption())
    .option('-o, --output <file>', 'write to a file')
    .action(async (id: string, o: DiagramOptions) => {
      if (o.output) writableOutput('--output', o.output);
      let text: string;
      if (!o.run) {
        const { topo, scenario } = locateScenario(id, o.file);
        const plan = compileScenario(topo, scenario, 'LABID').plan;
        text = o.format === 'svg' ? svg(plan) : o.format === 'dot' ? dot(plan) : mermaid(plan);
      } else {
        const r = await reportFor(id, o);
        const all = (r.stories ?? []).map((s, k) => ({ s, k }));
        const picked = o.probe ? all.filter((x) => x.k === Number(o.probe) - 1) : all;
        if (o.probe && !picked.length) throw new LabError(`--probe ${o.probe}: ${id} has ${all.length} probe(s)`, EXIT.usage);
        if (o.path) {
          const one = picked[0]?.s;
          if (!one) throw new LabError(`the saved run of ${id} has no probe story`, EXIT.infra);
          text = o.format === 'text' ? picked.map((x) => pathTerminal(x.s)).join('\n\n') + '\n'
            : o.format === 'mermaid' ? picked.map((x) => pathMermaid(x.s)).join('\n')
            : o.format === 'dot' ? pathDot(one) : pathSvg(one);
        } else {
          if (o.format === 'text') throw new LabError('--format text draws paths: add --path', EXIT.usage);
          const st = picked.find((x) => x.s.request.length)?.s;
          const plan = r.plan;
          if (!plan) throw new LabError(`the saved run of ${id} holds no plan`, EXIT.infra);
          const ov = overlayOf(st);
          text = o.format === 'svg' ? svg(plan, ov) : o.format === 'dot' ? dot(plan, ov) : mermaid(plan, ov.request);
        }
      }
      if (o.output) writeFileSync(o.output, text);
      else process.stdout.write(text);
    });
}
