// lab scenario: build, probe, capture, check, tear down; print the report.
import { writeFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { locateScenario } from '../catalog.ts';
import { EXIT } from '../errors.ts';
import { html } from '../report/html.ts';
import { renderScenario, scenarioJson } from '../report/terminal.ts';
import { runScenario } from '../run.ts';
import { saveReport } from '../report/saved.ts';
import { fileOption, runnerOption, type RunnerChoice } from './options.ts';
import { timeoutMs, writableOutput } from '../options.ts';

interface ScenarioOptions {
  file?: string;
  runner: RunnerChoice;
  json?: boolean;
  reporter: string;
  output?: string;
  verbose?: boolean;
  keep?: boolean;
  timeout: string;
  save?: string;
  pcap?: string;
}

export function registerScenario(program: Command): void {
  program.command('scenario')
    .description('build a scenario, send its traffic, capture everywhere, check every expectation, tear down')
    .argument('<id>', 'scenario id, e.g. eniip-5')
    .addOption(fileOption())
    .addOption(runnerOption())
    .option('--json', 'print one JSON document instead of the report (same as --reporter json)')
    .addOption(new Option('--reporter <name>', 'pretty (terminal), json, or html (one self-contained page)').choices(['pretty', 'json', 'html']).default('pretty'))
    .option('-o, --output <file>', 'write the report to a file instead of standard output')
    .option('-v, --verbose', 'show the evidence of passing checks too')
    .option('--keep', 'keep the job directory (captures, dumps) and print where it is')
    .option('--timeout <seconds>', 'give up on the run after this long', '900')
    .option('--pcap <file>', 'also write the run\'s capture: one pcapng, every interface named object:iface (Wireshark, tcpdump -r)')
    .option('--save <file>', 'also write the full report (plan, paths, stories) for `lab diagram --from FILE`')
    .action(async (id: string, o: ScenarioOptions) => {
      const { topo, scenario } = locateScenario(id, o.file);
      const timeout = timeoutMs('--timeout', o.timeout);
      if (o.output) writableOutput('--output', o.output);
      if (o.pcap) writableOutput('--pcap', o.pcap);
      const report = await runScenario(topo, scenario, { runner: o.runner, keep: o.keep, timeoutMs: timeout, pcap: o.pcap });
      if (o.pcap) process.stderr.write(report.pcap ? `capture written to ${report.pcap}\n` : `lab: no pcapng capture in this run (the capture process dlcap was not available or the run broke first): ${o.pcap} not written\n`);
      if (!report.error) saveReport(report); // `lab diagram ID` draws this run
      if (o.save) saveReport(report, o.save);
      const reporter = o.json ? 'json' : o.reporter;
      const text = reporter === 'json' ? JSON.stringify(scenarioJson(report), null, 2) + '\n' : reporter === 'html' ? html(report) : renderScenario(report, o.verbose) + '\n';
      if (o.output) {
        writeFileSync(o.output, text);
        process.stderr.write(`${report.id}: ${report.passed ? 'PASSED' : 'FAILED'} — report written to ${o.output}\n`);
      } else process.stdout.write(text);
      if (report.jobDir) process.stderr.write(`evidence kept in ${report.jobDir}\n`);
      process.exitCode = report.error ? EXIT.infra : report.passed ? EXIT.ok : EXIT.failed;
    });
}
