#!/usr/bin/env node
// datapath-lab command line: one file per verb under lab/cmd/. Exit statuses: 0 all checks hold,
// 1 a check failed, 2 bad input or usage, 3 no runner can serve here, 4 the run itself broke.
import { Command, CommanderError } from 'commander';
import { EXIT, LabError } from './errors.ts';
import { registerCapture } from './cmd/capture.ts';
import { registerCheck } from './cmd/check.ts';
import { registerDiagram } from './cmd/diagram.ts';
import { registerDown } from './cmd/down.ts';
import { registerExec } from './cmd/exec.ts';
import { registerExplain } from './cmd/explain.ts';
import { registerImport } from './cmd/import.ts';
import { registerLb } from './cmd/lb.ts';
import { registerList } from './cmd/list.ts';
import { registerPlan } from './cmd/plan.ts';
import { registerQuiz } from './cmd/quiz.ts';
import { registerProbe } from './cmd/probe.ts';
import { registerScenario } from './cmd/scenario.ts';
import { registerShell } from './cmd/shell.ts';
import { registerStatus } from './cmd/status.ts';
import { registerTest } from './cmd/test.ts';
import { registerUp } from './cmd/up.ts';

const program = new Command()
  .name('lab')
  .description('Builds Kubernetes container-network datapaths from real kernel objects and checks how packets travel.')
  .exitOverride()
  .configureOutput({ outputError: (s, write) => write(s) });

// The order here is the order `lab --help` lists the verbs in.
registerList(program);
registerPlan(program);
registerScenario(program);
registerExplain(program);
registerDiagram(program);
registerTest(program);
registerUp(program);
registerCheck(program);
registerQuiz(program);
registerProbe(program);
registerExec(program);
registerShell(program);
registerCapture(program);
registerStatus(program);
registerDown(program);
registerLb(program);
registerImport(program);

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
