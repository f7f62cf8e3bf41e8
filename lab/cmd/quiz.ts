// lab quiz: predict, then run, then score the predictions against the run's evidence (lab/workshop/quiz.ts).
import type { Command } from 'commander';
import { locateScenario } from '../catalog.ts';
import { compileScenario } from '../compile.ts';
import { EXIT, LabError } from '../errors.ts';
import { printableDeep } from '../report/escape.ts';
import { saveReport } from '../report/saved.ts';
import { runScenario } from '../run.ts';
import { timeoutMs } from '../options.ts';
import { readAnswers } from '../workshop/quiz-answers.ts';
import { askPredictions, quizProbes, quizSheet, renderScores, scoreProbe } from '../workshop/quiz.ts';
import { fileOption, runnerOption, type RunnerChoice } from './options.ts';

interface QuizOptions { file?: string; runner: RunnerChoice; answers?: string; json?: boolean; timeout: string }

export function registerQuiz(program: Command): void {
  program.command('quiz')
    .description('show a scenario\'s topology and probes (no story, no expectations), take a prediction per probe, run it, score each prediction against the evidence')
    .argument('<id>', 'scenario id, e.g. eniip-5')
    .addOption(fileOption())
    .addOption(runnerOption())
    .option('--answers <file>', 'predictions from a YAML or JSON file instead of the terminal (see docs/workshop.md, "Quiz")')
    .option('--json', 'print the score as one JSON document')
    .option('--timeout <seconds>', 'give up on the run after this long', '900')
    .addHelpText('after', [
      '',
      'An answers file (YAML or JSON), each probe by number (p1) or name:',
      '  probes:',
      '    p1: { reachable: true, crosses: [ecs1:primary, vpc], source: 10.0.1.91 }',
      'Scored against the run\'s evidence only: attempts, the traced request path, the capture at the server.',
      'Exit status: 0 when the predictions were scored (right or wrong), 2 bad answers or no terminal to ask, 4 the run broke.',
    ].join('\n'))
    .action(async (id: string, o: QuizOptions) => {
      const { topo, scenario } = locateScenario(id, o.file);
      const timeout = timeoutMs('--timeout', o.timeout);
      const { plan, probes } = compileScenario(topo, scenario, '000000');
      const qs = quizProbes(probes);
      let predictions;
      if (o.answers) predictions = readAnswers(o.answers, scenario.id, qs, plan);
      if (!o.json) process.stdout.write(quizSheet(topo, scenario.id, plan, probes) + '\n');
      if (!predictions) {
        if (!process.stdin.isTTY) throw new LabError('no terminal to ask for predictions: give them with --answers FILE', EXIT.usage);
        predictions = await askPredictions(qs, plan);
        if (!predictions.size) throw new LabError('no prediction given: nothing to score', EXIT.usage);
      }
      process.stderr.write(`running ${scenario.id} …\n`);
      const report = await runScenario(topo, scenario, { runner: o.runner, timeoutMs: timeout });
      if (report.error) throw new LabError(`the run of ${scenario.id} broke, nothing scored: ${report.error}`, EXIT.infra);
      saveReport(report); // `lab diagram ID` and `lab explain` show this run
      const scores = qs.filter((q) => predictions.has(q.key)).map((q) => {
        const r = report.probes.find((x) => x.id === q.key);
        if (!r) throw new LabError(`the run has no result for probe ${q.key}`, EXIT.infra);
        return scoreProbe(report.plan ?? plan, q, predictions.get(q.key)!, r);
      });
      if (o.json) {
        const items = scores.flatMap((s) => s.items);
        process.stdout.write(JSON.stringify(printableDeep({ id: scenario.id, labId: report.labId, runner: report.runner, right: items.filter((i) => i.right === true).length, total: items.length, probes: scores }), null, 2) + '\n');
      } else process.stdout.write('\n' + renderScores(scenario.id, scores, report.probes) + '\n');
      process.exitCode = EXIT.ok;
    });
}
