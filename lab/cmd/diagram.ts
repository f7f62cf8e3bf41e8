// lab diagram: the topology as built, with the observed request path drawn over it.
import { writeFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { locateScenario } from '../catalog.ts';
import { compileScenario } from '../compile.ts';
import { EXIT, LabError } from '../errors.ts';
import type { Hop } from '../checks/analyze.ts';
import { dot, mermaid, svg } from '../report/diagram.ts';
import { runScenario } from '../run.ts';
import { fileOption, runnerOption, type RunnerChoice } from './options.ts';

export function registerDiagram(program: Command): void {
  program.command('diagram')
    .description('the topology as built, with the observed request path drawn over it (runs the scenario unless --no-run)')
    .argument('<id>', 'scenario id')
    .addOption(fileOption())
    .addOption(new Option('--format <format>', 'mermaid (renders on GitHub), svg (Graphviz), dot').choices(['mermaid', 'svg', 'dot']).default('mermaid'))
    .option('--no-run', 'draw the topology only, without running the scenario')
    .addOption(runnerOption())
    .option('-o, --output <file>', 'write to a file')
    .action(async (id: string, o: { file?: string; format: string; run: boolean; runner: RunnerChoice; output?: string }) => {
      const { topo, scenario } = locateScenario(id, o.file);
      let plan = compileScenario(topo, scenario, 'LABID').plan;
      let hops: Hop[] = [];
      if (o.run) {
        const report = await runScenario(topo, scenario, { runner: o.runner });
        if (report.error) throw new LabError(report.error, EXIT.infra);
        plan = report.plan ?? plan;
        hops = report.probes.find((p) => p.path.length)?.path ?? [];
      }
      const text = o.format === 'svg' ? svg(plan, hops) : o.format === 'dot' ? dot(plan, hops) : mermaid(plan, hops);
      if (o.output) writeFileSync(o.output, text);
      else process.stdout.write(text);
    });
}
