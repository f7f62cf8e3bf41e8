// lab explain: the scenario's story, each hop with what decided it in the running kernel.
import type { Command } from 'commander';
import { locateScenario } from '../catalog.ts';
import { explain } from '../explain.ts';
import { fileOption, runnerOption, type RunnerChoice } from './options.ts';

export function registerExplain(program: Command): void {
  program.command('explain')
    .description("the scenario's story: topology, the article's path, and for each hop the route, rule or table entry that decides it, quoted from the running kernel")
    .argument('<id>', 'scenario id')
    .addOption(fileOption())
    .addOption(runnerOption())
    .action(async (id: string, o: { file?: string; runner: RunnerChoice }) => {
      const { topo, scenario } = locateScenario(id, o.file);
      process.stdout.write(await explain(topo, scenario, o.runner));
    });
}
