// lab check: the scenario's probes and expectations again on the lab that is up (lab/workshop/check.ts).
import { writeFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { EXIT } from '../errors.ts';
import { pickLab } from '../interactive.ts';
import { html } from '../report/html.ts';
import { saveReport } from '../report/saved.ts';
import { renderScenario, scenarioJson } from '../report/terminal.ts';
import { checkLab } from '../workshop/check.ts';
import { writableOutput } from '../options.ts';
import { labOption } from './options.ts';

export function registerCheck(program: Command): void {
  program.command('check')
    .description("re-run the scenario's probes and expectations on the lab that is up (after hand edits): the same report and exit status as `scenario`")
    .addOption(labOption())
    .option('--json', 'one JSON document (same as --reporter json)')
    .addOption(new Option('--reporter <name>', 'pretty, json or html').choices(['pretty', 'json', 'html']).default('pretty'))
    .option('-o, --output <file>', 'write the report to a file')
    .option('-v, --verbose', 'show the evidence of passing checks too')
    .option('--pcap <file>', 'also write the check\'s capture: one pcapng, every interface named object:iface (Wireshark, tcpdump -r)')
    .action(async (o: { lab?: string; json?: boolean; reporter: string; output?: string; verbose?: boolean; pcap?: string }) => {
      const s = pickLab(o.lab);
      if (o.output) writableOutput('--output', o.output);
      if (o.pcap) writableOutput('--pcap', o.pcap);
      const report = await checkLab(s, o.pcap);
      if (o.pcap) process.stderr.write(report.pcap ? `capture written to ${report.pcap}\n` : `lab: no pcapng capture in this check (the capture process dlcap was not available, the run broke, or the file could not be written): ${o.pcap} not written\n`);
      if (!report.error) saveReport(report); // `lab diagram ID` draws this check
      const reporter = o.json ? 'json' : o.reporter;
      const text = reporter === 'json' ? JSON.stringify(scenarioJson(report), null, 2) + '\n' : reporter === 'html' ? html(report) : renderScenario(report, o.verbose) + '\n';
      if (o.output) writeFileSync(o.output, text);
      else process.stdout.write(text);
      process.exitCode = report.error ? EXIT.infra : report.passed ? EXIT.ok : EXIT.failed;
    });
}
