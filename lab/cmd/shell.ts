// lab shell: a terminal in an object's network namespace of the running lab (lab/workshop/shell.ts).
import type { Command } from 'commander';
import { pickLab } from '../interactive.ts';
import { shell } from '../workshop/shell.ts';
import { labOption } from './options.ts';

export function registerShell(program: Command): void {
  program.command('shell')
    .description('a terminal in an object\'s network namespace of the running lab (natively or in the UML guest)')
    .argument('<object>')
    .addOption(labOption('the only one up, or the only one that has the object'))
    .addHelpText('after', [
      '',
      'From a terminal: a real one (a pty), with job control, Ctrl-C for the foreground job, and `cd`',
      'that stays; "exit" or Ctrl-D leaves. When stdin is not a terminal, the commands are read from',
      'stdin and run in one shell (e.g. `echo "ip route" | lab shell ecs1`). When the shell ends,',
      'everything it started (a tcpdump left in the background too) is stopped.',
    ].join('\n'))
    .action(async (object: string, o: { lab?: string }) => {
      process.exitCode = await shell(pickLab(o.lab, object), object);
    });
}
