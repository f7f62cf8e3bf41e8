// lab status: every lab of yours, from its journal (lab/state/status.ts).
import type { Command } from 'commander';
import { renderStatus, statusRows } from '../state/status.ts';

export function registerStatus(program: Command): void {
  program.command('status')
    .description('every lab of yours: runs in progress, labs left up, what killed runs left behind')
    .option('--json', 'one JSON document')
    .action((o: { json?: boolean }) => {
      const { rows, strays } = statusRows();
      if (o.json) {
        process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
        for (const s of strays) process.stderr.write(`lab: ${s}: not a lab folder (left alone)\n`);
      } else process.stdout.write(renderStatus(rows, strays));
    });
}
