// Placeholder: kube-proxy iptables mode as a ServiceProxy (issue: kproxy family). Replaced wholesale.
import type { ServiceProxy } from './types.ts';

export const iptablesProxy: ServiceProxy = {
  kind: 'iptables',
  summary: 'not implemented yet',
  build(): void {
    throw new Error('the kube-proxy iptables service proxy is not implemented yet');
  },
};
