// lab shell: a shell in an object's network namespace of the running lab.
import type { Command } from 'commander';
import { pickLab, shell } from '../interactive.ts';
import { labOption } from './options.ts';

export function registerShell(program: Command): void {
  program.command('shell')
    .description('a shell in an object\'s network namespace of the running lab')
    .argument('<object>')
    .addOption(labOption('the only one up, or the only one that has the object'))
    .action(async (object: string, o: { lab?: string }) => {
      process.exitCode = await shell(pickLab(o.lab, object), object);
    });
}
