// lab exec: one command in an object's network namespace of the running lab.
import type { Command } from 'commander';
import { execIn, pickLab } from '../interactive.ts';
import { labOption } from './options.ts';

export function registerExec(program: Command): void {
  program.command('exec')
    .description('run a command in an object\'s network namespace of the running lab')
    .argument('<object>', 'node, pod, vswitch, router, slb or client name')
    .argument('<cmd...>', 'the command (after --)')
    .addOption(labOption('the only one up, or the only one that has the object'))
    .action(async (object: string, cmd: string[], o: { lab?: string }) => {
      process.exitCode = await execIn(pickLab(o.lab, object), object, cmd);
    });
}
