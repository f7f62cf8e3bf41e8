// The pod servers and the probe client both ways, natively: with dlpod (one process serves every
// pod server of the lab, journalled as one daemon) and with the agent's fallback (DL_DLPOD=off:
// one socat daemon per server, socat per probe attempt) — kproxy-5 (UDP then TCP to kube-dns) and
// kproxy-4 (200 connections) pass either way, their checks reading probes.out and bulk-*.tsv alike.
import test from 'ava';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { locateScenario } from '../../lab/catalog.ts';
import { renderScenario } from '../../lab/report/terminal.ts';
import { runScenario } from '../../lab/run.ts';
import { removeLabDir } from '../../lab/state/labs.ts';

for (const mode of ['dlpod', 'socat'] as const) {
  for (const id of ['kproxy-5', 'kproxy-4']) {
    test.serial(`native ${id} with ${mode === 'dlpod' ? 'dlpod' : 'the socat fallback'}: every check passes`, async (t) => {
      const { topo, scenario } = locateScenario(id);
      if (mode === 'socat') process.env.DL_DLPOD = 'off';
      try {
        const report = await runScenario(topo, scenario, { runner: 'native', timeoutMs: 5 * 60_000, keep: true });
        if (!report.passed) t.log(renderScenario(report, true));
        t.falsy(report.error, report.error);
        t.true(report.probes.length > 0);
        for (const p of report.probes) for (const c of p.checks) t.true(c.passed, `${p.name}: ${c.name}: expected ${c.expected}, observed ${c.observed}`);
        t.truthy(report.jobDir);
        const lines = readFileSync(path.join(report.jobDir!, 'journal'), 'utf8').split('\n').filter((l) => l.startsWith('daemon\t'));
        // dlpod (and dlcap) record themselves before they open a socket (native/selfjournal.c), and
        // the agent records them once they run: the same name, pid and start time twice, one daemon.
        const records = lines.map((l) => l.split('\t').slice(1, 4).join('\t'));
        const daemons = [...new Set(records)].map((r) => r.split('\t')[0]!);
        if (mode === 'dlpod') t.is(records.filter((r) => r.startsWith('podsrv-')).length, 2, lines.join('\n'));
        const servers = report.plan!.steps.filter((s) => s.server).length;
        t.true(servers >= 2);
        if (mode === 'dlpod') {
          t.is(daemons.filter((d) => d.startsWith('podsrv-')).length, 1, daemons.join(' '));
          t.is(daemons.filter((d) => d.startsWith('srv-')).length, 0);
        } else {
          t.is(daemons.filter((d) => d.startsWith('srv-')).length, servers, daemons.join(' '));
          t.is(daemons.filter((d) => d.startsWith('podsrv-')).length, 0);
        }
        removeLabDir(path.basename(report.jobDir!).replace(/^job-/, ''));
      } finally {
        delete process.env.DL_DLPOD;
      }
    });
  }
}
