// A service proxy programs each node's service tables (kube-proxy IPVS or iptables mode, or
// the in-pod eBPF load balancer). One module per implementation; registry in ./registry.ts.
import type { BuildContext } from '../context.ts';

export interface ServiceProxy {
  kind: string;
  summary: string;
  build(ctx: BuildContext): void;
}
