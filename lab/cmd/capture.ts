// lab capture: tcpdump on one interface of the running lab.
import type { Command } from 'commander';
import { capture, pickLab } from '../interactive.ts';
import { labOption } from './options.ts';
import { captureFilter } from '../options.ts';

export function registerCapture(program: Command): void {
  program.command('capture')
    .description('tcpdump on an interface of the running lab (Ctrl-C stops)')
    .argument('<object>')
    .argument('<iface>', 'interface name, or any')
    .argument('[filter...]', 'a tcpdump filter, e.g. tcp port 80')
    .addOption(labOption('the only one up, or the only one that has the object'))
    .action(async (object: string, iface: string, filter: string[], o: { lab?: string }) => {
      captureFilter(iface, filter);
      process.exitCode = await capture(pickLab(o.lab, object), object, iface, filter);
    });
}
