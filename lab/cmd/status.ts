// lab status: the labs that are up.
import type { Command } from 'commander';
import { alive, listLabs } from '../interactive.ts';

export function registerStatus(program: Command): void {
  program.command('status')
    .description('the labs that are up')
    .option('--json', 'one JSON document')
    .action((o: { json?: boolean }) => {
      const labs = listLabs().map((s) => ({ ...s, alive: alive(s) }));
      if (o.json) {
        process.stdout.write(JSON.stringify(labs, null, 2) + '\n');
        return;
      }
      if (!labs.length) process.stdout.write('no lab is up\n');
      for (const s of labs) process.stdout.write(`${s.labId}  ${s.scenario.padEnd(16)} ${s.runner.padEnd(7)} ${s.alive ? 'up' : 'GONE (lab down ' + s.labId + ' cleans it)'}  since ${s.createdAt}  ${s.objects.length} namespaces\n`);
    });
}
