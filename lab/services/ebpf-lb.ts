// Placeholder: the in-pod tc eBPF load balancer as a ServiceProxy (issue: ipvlan family). Replaced wholesale.
import type { ServiceProxy } from './types.ts';

export const ebpfLb: ServiceProxy = {
  kind: 'ebpf',
  summary: 'not implemented yet',
  build(): void {
    throw new Error('the eBPF service load balancer is not implemented yet');
  },
};
