// lab list: every scenario of the catalogue (or of one topology file).
import type { Command } from 'commander';
import { loadCatalog } from '../catalog.ts';
import { loadTopology } from '../topology/load.ts';
import { fileOption } from './options.ts';

export function registerList(program: Command): void {
  program.command('list')
    .description('list every scenario: id, family, title')
    .option('--json', 'one JSON document')
    .addOption(fileOption('list the scenarios of this topology file instead of the catalogue'))
    .action((o: { json?: boolean; file?: string }) => {
      const topos = o.file ? [loadTopology(o.file)] : loadCatalog();
      const rows = topos.flatMap((t) => t.scenarios.map((s) => ({ id: s.id, family: t.family, title: s.title, file: t.file })));
      if (o.json) {
        process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
        return;
      }
      const w = Math.max(...rows.map((r) => r.id.length), 2);
      const fw = Math.max(...rows.map((r) => r.family.length), 6);
      process.stdout.write(`${'ID'.padEnd(w)}  ${'FAMILY'.padEnd(fw)}  TITLE\n`);
      for (const r of rows) process.stdout.write(`${r.id.padEnd(w)}  ${r.family.padEnd(fw)}  ${r.title}\n`);
    });
}
