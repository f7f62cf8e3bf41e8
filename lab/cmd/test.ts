// lab test: many scenarios (in parallel where the runner allows), reported for CI.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Option, type Command } from 'commander';
import { loadCatalog } from '../catalog.ts';
import { EXIT, LabError } from '../errors.ts';
import { html, htmlIndex } from '../report/html.ts';
import { renderSuite, type ReporterName } from '../report/suite.ts';
import { parseShard, runSuite, selectScenarios } from '../suite.ts';
import { loadTopology } from '../topology/load.ts';
import { fileOption, runnerOption, type RunnerChoice } from './options.ts';
import { wholeNumber, writableOutput } from '../options.ts';

interface TestOptions {
  family?: string;
  match?: string;
  file?: string;
  shard?: string;
  runner: RunnerChoice;
  reporter: ReporterName | 'html';
  output?: string;
  jobs?: string;
}

export function registerTest(program: Command): void {
  program.command('test')
    .description('run many scenarios (in parallel where the runner allows) and report them for CI')
    .option('--family <family>', 'only this family')
    .option('--match <glob>', 'only scenario ids matching this glob, e.g. "eniip-*"')
    .addOption(fileOption('the scenarios of this topology file instead of the catalogue'))
    .option('--shard <i/n>', 'run the i-th of n shards (for CI matrices)')
    .addOption(runnerOption())
    .addOption(new Option('--reporter <name>', 'report format (html: one page per scenario plus index.html, into the --output directory)').choices(['pretty', 'json', 'junit', 'tap', 'html']).default('pretty'))
    .option('--output <file>', 'write the report to a file (a directory for html); progress still goes to the terminal')
    .option('-j, --jobs <n>', 'scenarios at once (default: number of cores)')
    .action(async (o: TestOptions) => {
      if (o.reporter === 'html' && !o.output) throw new LabError('--reporter html writes one page per scenario: give --output DIR', EXIT.usage);
      const jobs = o.jobs === undefined ? undefined : wholeNumber('--jobs', o.jobs, 1, 256);
      if (o.output) writableOutput('--output', o.output, o.reporter === 'html' ? 'directory' : 'file');
      let shard;
      try {
        shard = o.shard ? parseShard(o.shard) : undefined;
      } catch (e) {
        throw new LabError((e as Error).message, EXIT.usage);
      }
      const items = selectScenarios(o.file ? [loadTopology(o.file)] : loadCatalog(), { family: o.family, match: o.match, shard });
      if (!items.length) throw new LabError('no scenario matches the selection', EXIT.usage);
      const live = process.stderr.isTTY;
      const running = new Set<string>();
      let finished = 0; // the live line counts what has finished, also when a new scenario starts
      const status = (done: number) => live && process.stderr.write(`\r\x1b[K[${(finished = done)}/${items.length}] running: ${[...running].join(', ')}`);
      const results = await runSuite(items, { runner: o.runner, jobs }, {
        started: (id) => { running.add(id); status(finished); },
        finished: (r, done, total) => {
          running.delete(r.id);
          process.stderr.write(`${live ? '\r\x1b[K' : ''}[${done}/${total}] ${r.passed ? 'PASS' : 'FAIL'} ${r.id} (${r.runner}, ${(r.timings.total / 1000).toFixed(1)} s)\n`);
          status(done);
        },
      });
      if (live) process.stderr.write('\r\x1b[K');
      if (o.reporter === 'html') {
        mkdirSync(o.output!, { recursive: true });
        for (const r of results) writeFileSync(path.join(o.output!, `${r.id}.html`), html(r));
        writeFileSync(path.join(o.output!, 'index.html'), htmlIndex(results));
        process.stderr.write(`${results.length} page(s) and index.html written to ${o.output}\n`);
      } else {
        const text = renderSuite(o.reporter, results);
        if (o.output) writeFileSync(o.output, text);
        else process.stdout.write(text);
      }
      process.exitCode = results.every((r) => r.passed) ? EXIT.ok : results.some((r) => r.error) && results.every((r) => r.passed || r.error) ? EXIT.infra : EXIT.failed;
    });
}
