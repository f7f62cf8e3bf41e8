#!/usr/bin/env node
// datapath-lab command line. Exit statuses: 0 all checks hold, 1 a check failed, 2 bad input or
// usage, 3 no runner can serve here, 4 the run itself broke.
import { Command, CommanderError, Option } from 'commander';
import { compileScenario } from './compile.ts';
import { locateScenario, loadCatalog } from './catalog.ts';
import { down } from './down.ts';
import { EXIT, LabError } from './errors.ts';
import { loadTopology } from './topology/load.ts';
import { renderPlan } from './report/plan.ts';
import { renderScenario, scenarioJson } from './report/terminal.ts';
import { runScenario } from './run.ts';
import { explain } from './explain.ts';
import { html, htmlIndex } from './report/html.ts';
import { dot, mermaid, svg } from './report/diagram.ts';
import type { Hop } from './probes/analyze.ts';
import { alive, capture, describeUp, execIn, listLabs, pickLab, shell, up } from './interactive.ts';
import { parseShard, runSuite, selectScenarios } from './suite.ts';
import { renderSuite, type ReporterName } from './report/suite.ts';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { RunnerName } from './runners/types.ts';
import { lbList } from './services/ebpf/lb-list.ts';

const runnerOption = () => new Option('--runner <runner>', 'where to build: native (host kernel, root), uml (User-Mode Linux, no root), docker (a container on the host kernel), auto').choices(['native', 'uml', 'docker', 'auto']).default('auto');

const program = new Command()
  .name('lab')
  .description('Builds Kubernetes container-network datapaths from real kernel objects and checks how packets travel.')
  .exitOverride()
  .configureOutput({ outputError: (s, write) => write(s) });

program.command('list')
  .description('list every scenario: id, family, title')
  .option('--json', 'one JSON document')
  .option('-f, --file <topology>', 'list the scenarios of this topology file instead of the catalogue')
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

program.command('plan')
  .description('print every command the build of a scenario would run, namespace by namespace (runs nothing, needs no root)')
  .argument('<id>', 'scenario id, e.g. eniip-5')
  .option('-f, --file <topology>', 'a topology file of your own')
  .action((id: string, o: { file?: string }) => {
    const { topo, scenario } = locateScenario(id, o.file);
    process.stdout.write(renderPlan(compileScenario(topo, scenario, 'LABID')));
  });

program.command('scenario')
  .description('build a scenario, send its traffic, capture everywhere, check every expectation, tear down')
  .argument('<id>', 'scenario id, e.g. eniip-5')
  .option('-f, --file <topology>', 'a topology file of your own')
  .addOption(runnerOption())
  .option('--json', 'print one JSON document instead of the report (same as --reporter json)')
  .addOption(new Option('--reporter <name>', 'pretty (terminal), json, or html (one self-contained page)').choices(['pretty', 'json', 'html']).default('pretty'))
  .option('-o, --output <file>', 'write the report to a file instead of standard output')
  .option('-v, --verbose', 'show the evidence of passing checks too')
  .option('--keep', 'keep the job directory (captures, dumps) and print where it is')
  .option('--timeout <seconds>', 'give up on the run after this long', '900')
  .action(async (id: string, o: { file?: string; runner: RunnerName | 'auto'; json?: boolean; reporter: string; output?: string; verbose?: boolean; keep?: boolean; timeout: string }) => {
    const { topo, scenario } = locateScenario(id, o.file);
    const report = await runScenario(topo, scenario, { runner: o.runner, keep: o.keep, timeoutMs: Number(o.timeout) * 1000 });
    const reporter = o.json ? 'json' : o.reporter;
    const text = reporter === 'json' ? JSON.stringify(scenarioJson(report), null, 2) + '\n' : reporter === 'html' ? html(report) : renderScenario(report, o.verbose) + '\n';
    if (o.output) {
      writeFileSync(o.output, text);
      process.stderr.write(`${report.id}: ${report.passed ? 'PASSED' : 'FAILED'} — report written to ${o.output}\n`);
    } else process.stdout.write(text);
    if (report.jobDir) process.stderr.write(`evidence kept in ${report.jobDir}\n`);
    process.exitCode = report.error ? EXIT.infra : report.passed ? EXIT.ok : EXIT.failed;
  });

program.command('explain')
  .description("the scenario's story: topology, the article's path, and for each hop the route, rule or table entry that decides it, quoted from the running kernel")
  .argument('<id>', 'scenario id')
  .option('-f, --file <topology>', 'a topology file of your own')
  .addOption(runnerOption())
  .action(async (id: string, o: { file?: string; runner: RunnerName | 'auto' }) => {
    const { topo, scenario } = locateScenario(id, o.file);
    process.stdout.write(await explain(topo, scenario, o.runner));
  });

program.command('diagram')
  .description('the topology as built, with the observed request path drawn over it (runs the scenario unless --no-run)')
  .argument('<id>', 'scenario id')
  .option('-f, --file <topology>', 'a topology file of your own')
  .addOption(new Option('--format <format>', 'mermaid (renders on GitHub), svg (Graphviz), dot').choices(['mermaid', 'svg', 'dot']).default('mermaid'))
  .option('--no-run', 'draw the topology only, without running the scenario')
  .addOption(runnerOption())
  .option('-o, --output <file>', 'write to a file')
  .action(async (id: string, o: { file?: string; format: string; run: boolean; runner: RunnerName | 'auto'; output?: string }) => {
    const { topo, scenario } = locateScenario(id, o.file);
    let plan = compileScenario(topo, scenario, 'LABID').plan;
    let hops: Hop[] = [];
    if (o.run) {
      const report = await runScenario(topo, scenario, { runner: o.runner });
      if (report.error) throw new LabError(report.error, EXIT.infra);
      plan = report.plan ?? plan;
      hops = report.probes.find((p) => p.path.length)?.path ?? [];
    }
    const text = o.format === 'svg' ? svg(plan, hops) : o.format === 'dot' ? dot(plan, hops) : mermaid(plan, hops);
    if (o.output) writeFileSync(o.output, text);
    else process.stdout.write(text);
  });

program.command('test')
  .description('run many scenarios (in parallel where the runner allows) and report them for CI')
  .option('--family <family>', 'only this family')
  .option('--match <glob>', 'only scenario ids matching this glob, e.g. "eniip-*"')
  .option('-f, --file <topology>', 'the scenarios of this topology file instead of the catalogue')
  .option('--shard <i/n>', 'run the i-th of n shards (for CI matrices)')
  .addOption(runnerOption())
  .addOption(new Option('--reporter <name>', 'report format (html: one page per scenario plus index.html, into the --output directory)').choices(['pretty', 'json', 'junit', 'tap', 'html']).default('pretty'))
  .option('--output <file>', 'write the report to a file (a directory for html); progress still goes to the terminal')
  .option('-j, --jobs <n>', 'scenarios at once (default: number of cores)')
  .action(async (o: { family?: string; match?: string; file?: string; shard?: string; runner: RunnerName | 'auto'; reporter: ReporterName | 'html'; output?: string; jobs?: string }) => {
    if (o.reporter === 'html' && !o.output) throw new LabError('--reporter html writes one page per scenario: give --output DIR', EXIT.usage);
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
    const status = (done: number) => live && process.stderr.write(`\r\x1b[K[${done}/${items.length}] running: ${[...running].join(', ')}`);
    const results = await runSuite(items, { runner: o.runner, jobs: o.jobs ? Number(o.jobs) : undefined }, {
      started: (id) => { running.add(id); status(0); },
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

program.command('up')
  .description('build a scenario and leave it running for exploration (exec, shell, capture, status, down)')
  .argument('<id>', 'scenario id, e.g. eniip-5')
  .option('-f, --file <topology>', 'a topology file of your own')
  .addOption(runnerOption())
  .action(async (id: string, o: { file?: string; runner: RunnerName | 'auto' }) => {
    const { topo, scenario } = locateScenario(id, o.file);
    process.stdout.write(describeUp(await up(topo, scenario, o.runner)) + '\n');
  });

program.command('exec')
  .description('run a command in an object\'s network namespace of the running lab')
  .argument('<object>', 'node, pod, vswitch, router, slb or client name')
  .argument('<cmd...>', 'the command (after --)')
  .option('--lab <labid>', 'which lab (default: the only one up)')
  .action(async (object: string, cmd: string[], o: { lab?: string }) => {
    process.exitCode = await execIn(pickLab(o.lab), object, cmd);
  });

program.command('shell')
  .description('a shell in an object\'s network namespace of the running lab')
  .argument('<object>')
  .option('--lab <labid>', 'which lab (default: the only one up)')
  .action(async (object: string, o: { lab?: string }) => {
    process.exitCode = await shell(pickLab(o.lab), object);
  });

program.command('capture')
  .description('tcpdump on an interface of the running lab (Ctrl-C stops)')
  .argument('<object>')
  .argument('<iface>', 'interface name, or any')
  .argument('[filter...]', 'a tcpdump filter, e.g. tcp port 80')
  .option('--lab <labid>', 'which lab (default: the only one up)')
  .action(async (object: string, iface: string, filter: string[], o: { lab?: string }) => {
    process.exitCode = await capture(pickLab(o.lab), object, iface, filter);
  });

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

program.command('lb')
  .description('the tc eBPF service load balancer of the ipvlan family (serviceProxy ebpf)')
  .command('list')
  .description("build a scenario, read each node's eBPF service maps back from the kernel (bpftool map dump) and print them like `cilium bpf lb list`, then tear down")
  .argument('<id>', 'scenario id, e.g. ipvlan-5')
  .option('-f, --file <topology>', 'a topology file of your own')
  .option('--node <node>', "only this node's table")
  .option('--revnat', 'the reverse-NAT map instead (ID → service address)')
  .option('--backends', 'the backend map instead (ID → backend)')
  .addOption(runnerOption())
  .option('--timeout <seconds>', 'give up on the run after this long', '300')
  .action(async (id: string, o: { file?: string; node?: string; revnat?: boolean; backends?: boolean; runner: RunnerName | 'auto'; timeout: string }) => {
    const { topo, scenario } = locateScenario(id, o.file);
    const mode = o.revnat ? 'revnat' : o.backends ? 'backends' : 'services';
    const tables = await lbList(topo, scenario, { runner: o.runner, node: o.node, mode, timeoutMs: Number(o.timeout) * 1000 });
    for (const [i, t] of tables.entries()) {
      if (tables.length > 1) process.stdout.write(`${i ? '\n' : ''}# ${t.node}\n`);
      process.stdout.write(t.text);
      for (const p of t.problems) process.stderr.write(`lab: ${t.node}: ${p}\n`);
    }
  });

async function main(): Promise<void> {
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : EXIT.usage;
      return;
    }
    if (err instanceof LabError) {
      process.stderr.write(`lab: ${err.message}\n`);
      process.exitCode = err.exitCode;
      return;
    }
    process.stderr.write(`lab: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = EXIT.infra;
  }
}

await main();
