// lab down: remove what a killed run or `lab up` left behind.
import type { Command } from 'commander';
import { down } from '../down.ts';
import { EXIT, LabError } from '../errors.ts';

export function registerDown(program: Command): void {
  program.command('down')
    .description('remove what a killed run left behind: lab namespaces, their processes, UML guests, job directories')
    .argument('[labid]', 'one lab (its id: the <labid> in dl-<labid>-<object> namespace names)')
    .option('--all', 'every lab')
    .action(async (labId: string | undefined, o: { all?: boolean }) => {
      if (!o.all && !labId) throw new LabError('say which lab: lab down <labid>, or lab down --all', EXIT.usage);
      if (labId && !/^[0-9a-f]{6}$/.test(labId)) throw new LabError(`"${labId}" is not a lab id (6 hex digits, as in dl-<labid>-ecs1)`, EXIT.usage);
      const r = await down(o.all ? undefined : labId);
      process.stdout.write(`${r.labs.length ? `took down lab ${r.labs.join(', ')}; then ` : ''}removed ${r.namespaces.length} namespace(s), ${r.processes.length} process(es), ${r.umlGuests.length} UML guest(s), ${r.jobDirs.length} job dir(s)\n`);
    });
}
