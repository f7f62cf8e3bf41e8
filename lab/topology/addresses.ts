// Address checks as the Kubernetes API server and the cloud would make them, so that input they
// would refuse is refused here (exit 2, located) instead of failing deep in a build or passing as
// a datapath result.
//   Kubernetes: ValidateNonSpecialIP refuses unspecified, loopback, link-local and multicast
//   addresses for service and endpoint IPs; NodePorts are unique across services; a node's
//   podCIDR is a network address (no host bits).
//   https://github.com/kubernetes/kubernetes/blob/master/pkg/apis/core/validation/validation.go
//   Alibaba Cloud VPC: a vSwitch CIDR is a network block, its first and last addresses (and the
//   last three) are reserved by the system; an ENI name becomes a Linux interface name.
//   https://www.alibabacloud.com/help/en/vpc/user-guide/create-and-manage-a-vswitch
//   Security-group port ranges are 1/65535 at most.
//   https://www.alibabacloud.com/help/en/ecs/user-guide/security-group-rules
import type { InputIssue } from '../errors.ts';
import type { Topology } from '../model.ts';
import { intToIp, ipToInt, isIpv4, parseCidr } from '../net.ts';
import type { Locator } from './locate.ts';

type Path = (string | number)[];

/** Why `ip` cannot be a service or endpoint address, or undefined (Kubernetes' ValidateNonSpecialIP, plus broadcast). */
export function specialAddress(ip: string): string | undefined {
  if (!isIpv4(ip)) return undefined; // the schema reports malformed addresses
  const n = ipToInt(ip);
  if (n === 0) return 'the unspecified address 0.0.0.0';
  if (n === 0xffffffff) return 'the broadcast address';
  if (n >>> 24 === 127) return 'a loopback address (127.0.0.0/8)';
  if (n >>> 16 === ((169 << 8) | 254)) return 'a link-local address (169.254.0.0/16)';
  if (n >>> 28 === 0xe) return 'a multicast address (224.0.0.0/4)';
  if (n >>> 28 === 0xf) return 'a reserved address (240.0.0.0/4)';
  return undefined;
}

/** Why `cidr` is not a network block, or undefined. */
export function cidrProblem(cidr: string, minLen = 1): string | undefined {
  const [ip, len] = cidr.split('/');
  if (!ip || !isIpv4(ip) || !/^\d{1,2}$/.test(len ?? '') || Number(len) > 32) return undefined; // the schema's job
  const c = parseCidr(cidr);
  if (c.len < minLen) return `/${c.len} is too wide (at least /${minLen})`;
  if (ipToInt(ip) !== c.base) return `${cidr} has host bits set: the network is ${intToIp(c.base)}/${c.len}`;
  return undefined;
}

function edge(cidr: string, ip: string): string | undefined {
  if (!isIpv4(ip)) return undefined;
  const c = parseCidr(cidr);
  if (c.len >= 31 || ((ipToInt(ip) & c.mask) >>> 0) !== c.base) return undefined;
  const last = (c.base | (~c.mask >>> 0)) >>> 0;
  if (ipToInt(ip) === c.base) return `the network address of ${cidr}`;
  if (ipToInt(ip) === last) return `the broadcast address of ${cidr}`;
  return undefined;
}

/** Interface names the kernel or iproute2 give a meaning, or that read as a VLAN sub-interface. */
export function eniNameProblem(name: string): string | undefined {
  if (name === 'lo') return '"lo" is the loopback interface of every namespace';
  if (name === 'all' || name === 'default') return `"${name}" is reserved by the kernel (net.ipv4.conf.${name} is not an interface)`;
  if (/\.\d+$/.test(name)) return `"${name}" reads as a VLAN sub-interface (name.VID): the trunk family makes those`;
  return undefined;
}

export function addressIssues(t: Topology, loc: Locator): InputIssue[] {
  const out: InputIssue[] = [];
  const add = (p: Path, m: string) => out.push(loc.issue(p, m));
  const c = t.cluster;
  c.vswitches.forEach((v, i) => {
    const p: Path = ['cluster', 'vpc', 'vswitches', i];
    const why = cidrProblem(v.cidr, 8);
    if (why) add([...p, 'cidr'], why);
    const e = edge(v.cidr, v.gateway);
    if (e) add([...p, 'gateway'], `gateway ${v.gateway} is ${e}`);
  });
  const podIps = new Map(c.pods.map((x) => [x.ip, x.name]));
  const slbIps = new Map(c.slbs.map((s) => [s.vip, s.name]));
  const vsw = new Map(c.vswitches.map((v) => [v.name, v]));
  c.nodes.forEach((n, i) => {
    n.enis.forEach((e, j) => {
      const why = eniNameProblem(e.name);
      if (why) add(['cluster', 'nodes', i, 'enis', j, 'name'], why);
      const v = vsw.get(e.vswitch);
      const ed = v && e.ip ? edge(v.cidr, e.ip) : undefined;
      if (ed) add(['cluster', 'nodes', i, 'enis', j, 'ip'], `${e.ip} is ${ed}`);
    });
    if (n.podCIDR) {
      const why = cidrProblem(n.podCIDR, 8);
      if (why) add(['cluster', 'nodes', i, 'podCIDR'], why);
    }
  });
  c.pods.forEach((x, i) => {
    const sp = specialAddress(x.ip);
    if (sp) add(['cluster', 'pods', i, 'ip'], `${x.ip} is ${sp}`);
    const node = c.nodes.find((n) => n.name === x.node);
    const eni = node?.enis.find((e) => e.name === x.eni);
    const v = eni ? vsw.get(eni.vswitch) : undefined;
    const ed = (v && edge(v.cidr, x.ip)) ?? (node?.podCIDR && !cidrProblem(node.podCIDR) ? edge(node.podCIDR, x.ip) : undefined);
    if (ed) add(['cluster', 'pods', i, 'ip'], `${x.ip} is ${ed}`);
  });
  const nodePorts = new Map<number, string>();
  c.services.forEach((s, i) => {
    const p: Path = ['cluster', 'services', i];
    const sp = specialAddress(s.clusterIP);
    if (sp) add([...p, 'clusterIP'], `${s.clusterIP} is ${sp}`);
    // A node's or a pod's address is already refused as a duplicate IP (semantics.ts).
    const slb = slbIps.get(s.clusterIP);
    if (slb) add([...p, 'clusterIP'], `${s.clusterIP} is already SLB ${slb}'s address: a ClusterIP is a virtual address of its own`);
    s.externalIPs.forEach((ip, k) => {
      const why = specialAddress(ip);
      if (why) add([...p, 'externalIPs', k], `${ip} is ${why}`);
      const pod = podIps.get(ip);
      if (pod) add([...p, 'externalIPs', k], `${ip} is pod ${pod}'s address`);
      const other = c.services.find((o) => o.clusterIP === ip);
      if (other) add([...p, 'externalIPs', k], `${ip} is service ${other.name}'s ClusterIP`);
    });
    s.ports.forEach((sp2, j) => {
      if (sp2.nodePort === undefined) return;
      const prev = nodePorts.get(sp2.nodePort);
      if (prev) add([...p, 'ports', j, 'nodePort'], `NodePort ${sp2.nodePort} is already ${prev}'s (a NodePort belongs to one service port)`);
      else nodePorts.set(sp2.nodePort, `service ${s.name}`);
    });
  });
  c.slbs.forEach((s, i) => {
    const sp = specialAddress(s.vip);
    if (sp) add(['cluster', 'slbs', i, 'vip'], `${s.vip} is ${sp}`);
  });
  c.securityGroups.forEach((g, i) => g.rules.forEach((r, j) => {
    if (!r.ports) return;
    const [a, b] = r.ports;
    const bad = [a, b].find((x) => !Number.isInteger(x) || x < 1 || x > 65535);
    if (bad !== undefined) add(['cluster', 'securityGroups', i, 'rules', j, 'ports'], `port ${bad} is outside 1-65535`);
    else if (a > b) add(['cluster', 'securityGroups', i, 'rules', j, 'ports'], `range ${a}-${b} ends before it starts`);
  }));
  return out;
}
