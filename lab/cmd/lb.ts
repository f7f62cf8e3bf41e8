// lab lb list: the eBPF service load balancer's maps read back from the kernel.
import type { Command } from 'commander';
import { locateScenario } from '../catalog.ts';
import { lbList } from '../services/ebpf/lb-list.ts';
import { fileOption, runnerOption, type RunnerChoice } from './options.ts';
import { timeoutMs } from '../options.ts';

interface LbListOptions {
  file?: string;
  node?: string;
  revnat?: boolean;
  backends?: boolean;
  runner: RunnerChoice;
  timeout: string;
}

export function registerLb(program: Command): void {
  program.command('lb')
    .description('the tc eBPF service load balancer of the ipvlan family (serviceProxy ebpf)')
    .command('list')
    .description("build a scenario, read each node's eBPF service maps back from the kernel (bpftool map dump) and print them like `cilium bpf lb list`, then tear down")
    .argument('<id>', 'scenario id, e.g. ipvlan-5')
    .addOption(fileOption())
    .option('--node <node>', "only this node's table")
    .option('--revnat', 'the reverse-NAT map instead (ID → service address)')
    .option('--backends', 'the backend map instead (ID → backend)')
    .addOption(runnerOption())
    .option('--timeout <seconds>', 'give up on the run after this long', '300')
    .action(async (id: string, o: LbListOptions) => {
      const { topo, scenario } = locateScenario(id, o.file);
      const mode = o.revnat ? 'revnat' : o.backends ? 'backends' : 'services';
      const tables = await lbList(topo, scenario, { runner: o.runner, node: o.node, mode, timeoutMs: timeoutMs('--timeout', o.timeout) });
      for (const [i, t] of tables.entries()) {
        if (tables.length > 1) process.stdout.write(`${i ? '\n' : ''}# ${t.node}\n`);
        process.stdout.write(t.text);
        for (const p of t.problems) process.stderr.write(`lab: ${t.node}: ${p}\n`);
      }
    });
}
