// lab down: take down your labs by their journals (lab/down.ts): what they made, nothing else.
import type { Command } from 'commander';
import { down, renderDown } from '../down.ts';
import { EXIT, LabError } from '../errors.ts';

export function registerDown(program: Command): void {
  program.command('down')
    .description('take down your labs by their journals: what they made, nothing else')
    .argument('[labid]', 'one lab (its id: the <labid> in dl-<labid>-<object> namespace names)')
    .option('--all', 'every lab of yours whose command is gone')
    .option('--force', 'also labs whose command still runs')
    .action(async (labId: string | undefined, o: { all?: boolean; force?: boolean }) => {
      if (!o.all && !labId) throw new LabError('say which lab: lab down <labid>, or lab down --all', EXIT.usage);
      if (labId && !/^[0-9a-f]{6}$/.test(labId)) throw new LabError(`"${labId}" is not a lab id (6 hex digits, as in dl-<labid>-ecs1)`, EXIT.usage);
      const r = await down({ labId: o.all ? undefined : labId, force: o.force });
      process.stdout.write(renderDown(r));
      // A lab named but left alone (its command runs): not done.
      if (r.skipped.length && labId) process.exitCode = EXIT.failed;
    });
}
