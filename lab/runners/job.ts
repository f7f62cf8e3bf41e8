// The job directory: the compiled plan and probe list as files the agent reads, and the out/
// directory where it leaves its evidence. Everything is plain data: a TAB-separated manifest
// (the agent splits it into argv arrays, it never evaluates it) and batch files per tool.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Compiled } from '../compile.ts';
import { stepFile, type Plan, type Step } from '../plan.ts';
import { executionSteps } from './execution.ts';
import { nsName } from '../names.ts';
import { sourcePort, type DumpRequest } from '../contract.ts';
import { nodeMapsDir } from '../services/ebpf-lb.ts';
import { InfraError } from '../errors.ts';
import { createLab, removeLabDir } from '../state/labs.ts';

export interface Job {
  dir: string;
  labId: string;
  compiled: Compiled;
}

/** The agent's argv for a step (after @JOB@ substitution), as a manifest line. */
export function manifestLine(plan: Plan, step: Step, file?: string): string[] {
  const ns = step.object === null ? '' : nsName(plan.labId, step.object);
  switch (step.tool) {
    case 'netns': return ['netns', file!];
    case 'ip': case 'tc': case 'sysctl': case 'iptables': case 'ipset': case 'ipvs': return [step.tool, ns, file!];
    case 'exec': case 'nsenter': return [step.tool, ns, ...step.argv!];
    case 'host': return ['host', ...step.argv!];
    case 'daemon':
      // A pod server: `server NS NAME PROTO PORT FILE` and its socat form, for agents without dlpod.
      if (step.server) return ['server', ns, step.name!, step.server.proto, String(step.server.port), step.server.file, ...step.argv!];
      return ['daemon', ns, step.name!, controlSocket(step.argv!) ?? '-', ...step.argv!];
    case 'waitfile': return ['waitfile', ...step.argv!];
    case 'waitbgp': return ['waitbgp', ns, ...step.argv!];
  }
}

/** A daemon's control socket (BIRD's `-s PATH`), which the agent journals before starting it. */
function controlSocket(argv: string[]): string | undefined {
  const i = argv.indexOf('-s');
  return argv[0] === 'bird' && i > 0 ? argv[i + 1] : undefined;
}

/**
 * The value a dump needs, given to the agent rather than recomputed there from a namespace name:
 * BIRD's control socket (from the daemon's own argv), the eBPF maps' pin folder.
 */
function dumpValue(plan: Plan, d: DumpRequest): string[] {
  if (d.kind === 'bpf') return [nodeMapsDir(plan.labId, d.object)];
  if (d.kind === 'bird') {
    const step = plan.steps.find((s) => s.tool === 'daemon' && s.object === d.object && controlSocket(s.argv ?? []));
    return step ? [controlSocket(step.argv!)!] : [];
  }
  return [];
}

function checkField(s: string): string {
  // Manifest fields are TAB-separated lines: a field may hold neither.
  if (/[\t\n\r]/.test(s)) throw new Error(`manifest field contains a TAB or newline: ${JSON.stringify(s)}`);
  return s;
}

export function renderJob(compiled: Compiled): Record<string, string> {
  const { plan, probes } = compiled;
  const files: Record<string, string> = { ...plan.files };
  const manifest: string[] = [];
  executionSteps(plan).forEach((step, i) => {
    let file: string | undefined;
    if (step.lines) {
      file = stepFile(step, i);
      files[file] = step.lines.join('\n') + '\n';
    }
    manifest.push(manifestLine(plan, step, file).map(checkField).join('\t'));
  });
  files['manifest.tsv'] = manifest.join('\n') + '\n';
  files['namespaces'] = plan.namespaces.map((n) => n.ns).join('\n') + '\n';
  files['probes.tsv'] = probes.map((p) => [
    p.id, nsName(plan.labId, p.from), p.dstIp, String(p.dstPort), String(p.attempts), String(p.timeout), p.want, p.mode,
    p.dumps.map((d) => [`${d.unanswered ? '?' : ''}${d.kind}`, nsName(plan.labId, d.object), ...dumpValue(plan, d)].join(':')).join(','),
    String(sourcePort(p.index, 0)), p.protocol,
  ].map(checkField).join('\t')).join('\n') + (probes.length ? '\n' : '');
  files['dumps.tsv'] = plan.dumps.map((d) => [d.kind, nsName(plan.labId, d.object), ...dumpValue(plan, d)].map(checkField).join('\t')).join('\n') + (plan.dumps.length ? '\n' : '');
  files['capture-filter'] = `${captureFilter(probes)}\n`;
  return files;
}

/**
 * The capture's libpcap filter: TCP, and UDP or SCTP when a probe uses them. BGP (TCP 179)
 * keepalives would flood the capture; nothing else in a lab speaks UDP or SCTP but the probes.
 */
export function captureFilter(probes: readonly { protocol: string }[]): string {
  const protos = ['tcp', ...new Set(probes.map((p) => p.protocol).filter((p) => p !== 'tcp'))];
  return `${protos.length > 1 ? `(${protos.join(' or ')})` : 'tcp'} and not port 179`;
}

/** Where jobs live: the user's private state folder (lab/state/dir.ts). */
export { stateRoot } from '../state/dir.ts';

/**
 * Makes the lab's folder with its journal (lab/state/labs.ts), then writes the job into it.
 * A job that cannot be written (a full disk) is removed again: exit 4, nothing built.
 */
export function writeJob(compiled: Compiled): Job {
  const labId = compiled.plan.labId;
  const dir = createLab(labId);
  try {
    for (const [rel, content] of Object.entries(renderJob(compiled))) {
      const f = path.join(dir, rel);
      mkdirSync(path.dirname(f), { recursive: true });
      writeFileSync(f, content);
    }
    // The agent's evidence folders, made here: in a UML guest its `mkdir -p` is a process (~50 ms).
    for (const d of ['capture', 'dump']) mkdirSync(path.join(dir, 'out', d), { recursive: true });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw new InfraError(`cannot write the job of lab ${labId} in ${dir}: ${(e as Error).message}`);
  }
  return { dir, labId, compiled };
}

export function removeJob(job: Job): void {
  removeLabDir(job.labId);
}
