// lab plan: every command a scenario's build would run (runs nothing, needs no root).
import type { Command } from 'commander';
import { locateScenario } from '../catalog.ts';
import { compileScenario } from '../compile.ts';
import { renderPlan } from '../report/plan.ts';
import { fileOption } from './options.ts';

export function registerPlan(program: Command): void {
  program.command('plan')
    .description('print every command the build of a scenario would run, namespace by namespace (runs nothing, needs no root)')
    .argument('<id>', 'scenario id, e.g. eniip-5')
    .addOption(fileOption())
    .action((id: string, o: { file?: string }) => {
      const { topo, scenario } = locateScenario(id, o.file);
      process.stdout.write(renderPlan(compileScenario(topo, scenario, 'LABID')));
    });
}
