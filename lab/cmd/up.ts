// lab up: build a scenario and leave it running for exec, shell, capture, status, down.
import type { Command } from 'commander';
import { locateScenario } from '../catalog.ts';
import { describeUp, up } from '../interactive.ts';
import { fileOption, runnerOption, type RunnerChoice } from './options.ts';

export function registerUp(program: Command): void {
  program.command('up')
    .description('build a scenario and leave it running for exploration (exec, shell, capture, status, down)')
    .argument('<id>', 'scenario id, e.g. eniip-5')
    .addOption(fileOption())
    .addOption(runnerOption())
    .action(async (id: string, o: { file?: string; runner: RunnerChoice }) => {
      const { topo, scenario } = locateScenario(id, o.file);
      process.stdout.write(describeUp(await up(topo, scenario, o.runner)) + '\n');
    });
}
