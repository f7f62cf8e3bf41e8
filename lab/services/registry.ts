// Registry of service proxies: topology `cluster.serviceProxy.kind` → module (one file each).
import type { ServiceProxy } from './types.ts';
import { ebpfLb } from './ebpf-lb.ts';
import { ipvs } from './ipvs/index.ts';
import { iptablesProxy } from './kubeproxy-iptables.ts';

const none: ServiceProxy = { kind: 'none', summary: 'no service proxy', build() {} };

export const SERVICE_PROXIES: Record<string, ServiceProxy> = { ipvs, iptables: iptablesProxy, ebpf: ebpfLb, none };

export function serviceProxyFor(kind: string): ServiceProxy {
  const s = SERVICE_PROXIES[kind];
  if (!s) throw new Error(`unknown service proxy "${kind}" (available: ${Object.keys(SERVICE_PROXIES).join(', ')})`);
  return s;
}
