// `lab plan`: every command the build would run, namespace by namespace, in order.
import type { Compiled } from '../compile.ts';
import { manifestLine } from '../runners/job.ts';
import { nsName } from '../names.ts';

export function renderPlan(c: Compiled): string {
  const { plan } = c;
  const out: string[] = [];
  out.push(`# datapath-lab plan ${plan.labId}: ${plan.namespaces.length} namespaces, ${plan.interfaces.length} interfaces, ${plan.steps.length} batches`);
  out.push(`# kernel features: ${[...plan.features].sort().join(', ')}`);
  out.push(`# kernel modules (UML guest): ${plan.modules.join(' ')}`);
  for (const n of plan.notes) out.push(`# note: ${n}`);
  let lastPhase = '';
  for (const step of plan.steps) {
    if (step.phase !== lastPhase) {
      out.push('', `## phase ${step.phase}`);
      lastPhase = step.phase;
    }
    const ns = step.object === null ? '' : nsName(plan.labId, step.object);
    const label = step.object === null ? '(root: namespaces only)' : `${step.object} [${ns}]`;
    switch (step.tool) {
      case 'netns': out.push(`### ip -batch -   ${label}`); break;
      case 'ip': out.push(`### ip -n ${ns} -batch -   ${label}`); break;
      case 'tc': out.push(`### tc -n ${ns} -batch -   ${label}`); break;
      case 'sysctl': out.push(`### ip netns exec ${ns} sysctl -p -   ${label}`); break;
      case 'iptables': out.push(`### ip netns exec ${ns} iptables-restore   ${label}`); break;
      case 'ipset': out.push(`### ip netns exec ${ns} ipset restore   ${label}`); break;
      case 'ipvs': out.push(`### ip netns exec ${ns} ipvsadm -R   ${label}`); break;
      default: out.push(`### ${manifestLine(plan, step).join(' ')}${step.comment ? `   # ${step.comment}` : ''}`);
    }
    if (step.lines) for (const l of step.lines) out.push(...l.split('\n').map((x) => `    ${x}`));
  }
  // Daemon configuration files (BIRD's), as the daemons read them.
  const confs = Object.keys(plan.files).filter((f) => f.endsWith('.conf')).sort();
  if (confs.length) {
    out.push('', '## files');
    for (const f of confs) out.push(`### @JOB@/${f}`, ...plan.files[f]!.trimEnd().split('\n').map((x) => `    ${x}`));
  }
  if (c.probes.length) {
    out.push('', '## probes');
    for (const p of c.probes) {
      out.push(`### ${p.id} ${p.probe.name}: from ${p.from} to ${p.dstIp}:${p.dstPort} (${p.mode}, ${p.attempts} attempt(s), timeout ${p.timeout}s${p.want !== '-' ? `, until "${p.want.trim()}"` : ''})`);
    }
  }
  return out.join('\n') + '\n';
}
