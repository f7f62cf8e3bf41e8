// References a topology's scenarios make: address references (a node, pod, client or router
// name; svc/NAME[:clusterIP|:externalIP[N]|:loadBalancer[N]]; slb/NAME; a literal IPv4 address) and interface
// references (OBJECT:IFNAME and the symbolic names the compilers give interfaces).
import { isIpv4 } from '../net.ts';
import type { Topology } from '../model.ts';

// Address references: a node, pod or client name (its IP); svc/<name>:clusterIP|externalIP[N]|loadBalancer[N];
// slb/<name> (its VIP); a literal IPv4 address.
export function checkAddressRef(ref: string, t: Topology): string | undefined {
  try {
    resolveAddress(ref, t);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

export interface ResolvedAddress {
  ip: string;
  port?: number;
  label: string;
}

export function resolveAddress(ref: string, t: Topology): ResolvedAddress {
  const c = t.cluster;
  if (isIpv4(ref)) return { ip: ref, label: ref };
  const svc = /^svc\/([a-z0-9-]+)(?::(clusterIP|externalIP|loadBalancer)(\d*))?$/.exec(ref);
  if (svc) {
    const s = c.services.find((x) => x.name === svc[1]);
    if (!s) throw new Error(`unknown service "${svc[1]}" in "${ref}"`);
    const kind = svc[2] ?? 'clusterIP';
    if (kind === 'clusterIP') return { ip: s.clusterIP, port: s.ports[0]!.port, label: ref };
    const idx = svc[3] ? Number(svc[3]) : 0;
    // loadBalancer[N]: status.loadBalancer.ingress[N].ip (the topology's loadBalancerIPs).
    const [field, ips] = kind === 'loadBalancer' ? ['loadBalancerIPs', s.loadBalancerIPs] : ['externalIPs', s.externalIPs];
    const ip = ips[idx];
    if (!ip) throw new Error(`service "${s.name}" has no ${field}[${idx}] (in "${ref}")`);
    return { ip, port: s.ports[0]!.port, label: ref };
  }
  const slb = /^slb\/([a-z0-9-]+)$/.exec(ref);
  if (slb) {
    const s = c.slbs.find((x) => x.name === slb[1]);
    if (!s) throw new Error(`unknown slb "${slb[1]}" in "${ref}"`);
    return { ip: s.vip, port: s.port, label: ref };
  }
  const pod = c.pods.find((p) => p.name === ref);
  if (pod) return { ip: pod.ip, port: pod.listen[0], label: ref };
  const node = c.nodes.find((n) => n.name === ref);
  if (node) return { ip: node.ip, label: ref };
  const client = c.clients.find((x) => x.name === ref);
  if (client) return { ip: client.ip, label: ref };
  const router = c.routers.find((x) => x.name === ref);
  if (router) return { ip: router.ip, label: ref };
  throw new Error(`"${ref}" is not an address reference: expected a pod, node or client name, svc/NAME[:clusterIP|:externalIP|:loadBalancer], slb/NAME or an IPv4 address`);
}

// Interface references: OBJECT:IFNAME, OBJECT:* (any interface of that namespace),
// NODE:cali(POD) (the pod's host veth), NODE:eni(POD) (the ENI that carries the pod),
// NODE:primary (the node's primary ENI), NODE:ipvl(POD) (the host ipvlan slave of the pod's ENI),
// NODE:vlan(POD) (the pod's member-ENI VLAN on the trunk), vpc (any interface of the cloud fabric).
export function checkIfaceRef(ref: string, t: Topology): string | undefined {
  if (ref === 'vpc') return undefined;
  const m = /^([a-z0-9-]+):(\*|[A-Za-z0-9_.-]{1,15}|(cali|eni|ipvl|vlan)\(([a-z0-9-]+)\)|primary)$/.exec(ref);
  if (!m) return `"${ref}" is not an interface reference: expected OBJECT:IFNAME, OBJECT:*, NODE:cali(POD), NODE:eni(POD), NODE:ipvl(POD), NODE:vlan(POD), NODE:primary or vpc (any interface of the cloud fabric)`;
  const obj = m[1]!;
  const c = t.cluster;
  const known = c.nodes.some((n) => n.name === obj) || c.pods.some((p) => p.name === obj) || c.vswitches.some((v) => v.name === obj)
    || c.slbs.some((s) => s.name === obj) || c.clients.some((x) => x.name === obj) || c.routers.some((x) => x.name === obj) || obj === 'vpc';
  if (!known) return `unknown object "${obj}" in "${ref}"`;
  if (m[4] && !c.pods.some((p) => p.name === m[4])) return `unknown pod "${m[4]}" in "${ref}"`;
  return undefined;
}
