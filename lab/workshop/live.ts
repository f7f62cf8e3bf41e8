// Probes on a lab that is up: the one path `lab check` (the scenario's probes) and `lab probe` (one
// ad-hoc probe) share. The compiled probe list becomes the job's probe files, the agent's `probe`
// phase runs them there (natively, or through a UML guest's serve loop), and the evidence is read
// and explained as a scenario run's is. The lab's counters already hold earlier traffic, so the
// iptables counters are dumped once before the probes (the first probe's baseline). One run at a
// time per lab (a lock file); the evidence of the previous one is moved aside first.
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { analyze, type ProbeResult } from '../checks/analyze.ts';
import type { Compiled } from '../compile.ts';
import { EXIT, LabError } from '../errors.ts';
import { stories, type Story } from '../explain/story.ts';
import { agentPhase, alive, type LabState } from '../interactive.ts';
import type { Topology } from '../model.ts';
import { nsName } from '../names.ts';
import { copyCapture, unattempted } from '../run.ts';
import { renderJob } from '../runners/job.ts';
import { isRunning, selfRecord } from '../state/proc.ts';

export interface LiveRun {
  probes: ProbeResult[];
  stories: Story[];
  probeMs: number;
  error?: string;
  /** Where the capture was copied (pcap option), when the run had one. */
  pcap?: string;
}

/** Moves the previous probe evidence (probe results, events, dumps, captures) to out/earlier-N/. */
function setAside(jobDir: string): void {
  const out = path.join(jobDir, 'out');
  if (!existsSync(out)) return;
  const moving = readdirSync(out).filter((f) => f === 'probes.out' || f === 'events.tsv' || f === 'dump' || f.startsWith('capture') || f.startsWith('bulk-') || f.startsWith('probe-'));
  if (!moving.length) return;
  let n = 1;
  while (existsSync(path.join(out, `earlier-${n}`))) n++;
  const dest = path.join(out, `earlier-${n}`);
  mkdirSync(dest);
  for (const f of moving) renameSync(path.join(out, f), path.join(dest, f));
}

/** Takes the lab's probe lock (a file holding our pid and start time); a lock whose process is
 *  gone, or whose pid now belongs to another process, is taken over (lab/state/proc.ts). */
export function lock(s: Pick<LabState, 'jobDir' | 'labId'>): () => void {
  const f = path.join(s.jobDir, 'probe.lock');
  for (let tries = 0; tries < 2; tries++) {
    try {
      const fd = openSync(f, 'wx');
      const me = selfRecord();
      writeSync(fd, `${me.pid} ${me.start}\n`);
      closeSync(fd);
      return () => rmSync(f, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const [pid, start] = readFileSync(f, 'utf8').trim().split(' ');
      const holder = { pid: Number(pid), start: start ?? '' };
      if (isRunning(holder)) {
        throw new LabError(`lab ${s.labId} is busy: a check or probe (pid ${holder.pid}) is running on it; try again when it is done`, EXIT.usage);
      }
      rmSync(f, { force: true });
    }
  }
  throw new LabError(`lab ${s.labId}: cannot take its probe lock ${f}`, EXIT.infra);
}

/** The job's probe files for this run: the probe list, the final dumps, the capture filter and the baseline —
 *  every namespace whose iptables counters a probe reads, dumped before the first probe. */
function writeProbeFiles(s: LabState, compiled: Compiled): void {
  const files = renderJob(compiled);
  const seen = new Set<string>();
  const baseline: string[] = [];
  for (const d of compiled.probes.flatMap((p) => p.dumps)) {
    if (d.kind !== 'iptables' || seen.has(d.object)) continue;
    seen.add(d.object);
    baseline.push(`iptables\t${nsName(compiled.plan.labId, d.object)}`);
  }
  files['baseline.tsv'] = baseline.length ? baseline.join('\n') + '\n' : '';
  // The capture filter too: an ad-hoc UDP or SCTP probe on a lab whose scenario probes only TCP.
  for (const f of ['probes.tsv', 'dumps.tsv', 'baseline.tsv', 'capture-filter']) {
    const tmp = path.join(s.jobDir, `${f}.${process.pid}.tmp`);
    writeFileSync(tmp, files[f] ?? '');
    renameSync(tmp, path.join(s.jobDir, f));
  }
}

/** Runs COMPILED's probes (compiled for this lab's id) on the lab that is up, and reads them. */
export async function probeLive(s: LabState, topo: Topology, compiled: Compiled, pcap?: string): Promise<LiveRun> {
  if (!alive(s)) throw new LabError(`lab ${s.labId} is not running (lab status; lab down ${s.labId} cleans it)`, EXIT.usage);
  const unlock = lock(s);
  try {
    setAside(s.jobDir);
    writeProbeFiles(s, compiled);
    const t0 = Date.now();
    const rc = await agentPhase(s, 'probe');
    const run: LiveRun = { probes: [], stories: [], probeMs: Date.now() - t0 };
    if (pcap && copyCapture(s.jobDir, pcap)) run.pcap = pcap;
    if (rc !== 0) return { ...run, error: `the probes could not run on lab ${s.labId} (agent status ${rc}${rc === 14 ? ': a tool in the lab failed to start' : ''})` };
    const unrun = unattempted(s.jobDir, compiled.probes.map((p) => p.id));
    if (unrun.length) return { ...run, error: `the agent recorded no attempt of probe ${unrun.join(', ')} on lab ${s.labId} (a broken run, not a datapath result)` };
    run.probes = analyze(topo, compiled, s.jobDir);
    run.stories = stories(topo, compiled, s.jobDir, run.probes);
    return run;
  } finally {
    unlock();
  }
}
