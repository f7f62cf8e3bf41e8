// lab probe: one ad-hoc probe on the lab that is up, printed as a scenario probe is (lab/workshop/probe.ts).
import { Option, type Command } from 'commander';
import { EXIT } from '../errors.ts';
import { pickLab } from '../interactive.ts';
import { writableOutput } from '../options.ts';
import { printableDeep } from '../report/escape.ts';
import { bold, dim, red, probeJson, renderProbe } from '../report/terminal.ts';
import { probeLab, type ProbeRun } from '../workshop/probe.ts';
import type { LabState } from '../interactive.ts';
import type { ProbeProtocol } from '../model.ts';
import { labOption } from './options.ts';

interface ProbeOptions {
  lab?: string;
  json?: boolean;
  verbose?: boolean;
  pcap?: string;
  protocol?: ProbeProtocol;
}

function render(s: LabState, run: ProbeRun, verbose?: boolean): string {
  const out = [bold(`lab probe on lab ${s.labId} (${s.scenario}, ${s.runner} runner)`)];
  if (run.error) out.push(red(`ERROR: ${run.error}`));
  if (run.probe) out.push(...renderProbe(run.probe, run.story, verbose));
  for (const c of printableDeep(run.conntrack)) {
    out.push(`  conntrack in ${c.object}:`);
    for (const e of c.entries) out.push(dim(`    ${e}`));
  }
  if (verbose) {
    for (const c of printableDeep(run.probe?.captures ?? [])) {
      out.push(`  captured on ${c.iface}:`);
      for (const l of c.lines) out.push(dim(`    ${l}`));
    }
  }
  return out.join('\n') + '\n';
}

function json(s: LabState, run: ProbeRun): string {
  const story = run.story;
  return JSON.stringify({
    labId: s.labId, scenario: s.scenario, runner: s.runner, error: run.error, probe: run.probe ? probeJson(run.probe) : undefined,
    verdict: story?.verdict, rewrites: story?.request.flatMap((x) => x.rewrites), conntrack: run.conntrack,
    captures: run.probe?.captures, pcap: run.pcap,
  }, null, 2) + '\n';
}

export function registerProbe(program: Command): void {
  program.command('probe')
    .description('send one probe on the lab that is up and show what the kernel did: verdict, path, rewrites, conntrack (exit 0 delivered, 1 not)')
    .argument('<from>', 'the pod, node or client it leaves from')
    .argument('<to>', 'TO[:PORT]: a pod, node or client, svc/NAME[:clusterIP|:externalIP], slb/NAME or an IPv4 address; PORT defaults to the service\'s first port or the pod\'s listener')
    .addOption(labOption('the only one up, or the only one that has FROM'))
    .addOption(new Option('--protocol <p>', 'tcp, udp or sctp (default: the service port\'s protocol, else tcp)').choices(['tcp', 'udp', 'sctp']))
    .option('--json', 'one JSON document')
    .option('-v, --verbose', 'also every packet captured, per interface')
    .option('--pcap <file>', 'also write the probe\'s capture: one pcapng, every interface named object:iface (Wireshark, tcpdump -r)')
    .action(async (from: string, to: string, o: ProbeOptions) => {
      const s = pickLab(o.lab, from);
      if (o.pcap) writableOutput('--pcap', o.pcap);
      const run = await probeLab(s, from, to, o.pcap, o.protocol);
      if (o.pcap) process.stderr.write(run.pcap ? `capture written to ${run.pcap}\n` : `lab: no pcapng capture of this probe (the capture process dlcap was not available, the run broke, or the file could not be written): ${o.pcap} not written\n`);
      process.stdout.write(o.json ? json(s, run) : render(s, run, o.verbose));
      process.exitCode = run.error || !run.probe ? EXIT.infra : run.story?.verdict.kind === 'delivered' ? EXIT.ok : EXIT.failed;
    });
}
