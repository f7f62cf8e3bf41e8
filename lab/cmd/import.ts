// lab import DUMP [--datapath KIND] [-o FILE]: a starter topology from `kubectl get nodes,pods,
// services,endpointslices -A -o yaml`, the dump referenced as its cluster.manifests.
import { Option, type Command } from 'commander';
import { importDumpFile, IMPORT_DATAPATHS, type ImportDatapath } from '../kubernetes/import.ts';

export function registerImport(program: Command): void {
  program.command('import')
    .description('write a starter topology from a cluster dump (kubectl get nodes,pods,services,endpointslices -A -o yaml)')
    .argument('<dump>', 'the dump: YAML or JSON, a v1 List or several documents')
    .addOption(new Option('--datapath <kind>', 'the datapath family of the topology').choices([...IMPORT_DATAPATHS]).default('calico'))
    .option('-o, --output <file>', 'write the topology here (default: standard output)')
    .action((dump: string, o: { datapath: ImportDatapath; output?: string }) => {
      const text = importDumpFile(dump, { datapath: o.datapath, ...(o.output ? { output: o.output } : {}) });
      if (!o.output) process.stdout.write(text);
    });
}
