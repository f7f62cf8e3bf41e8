/**
 * `lab import --datapath KIND`: where a dump's nodes and pods go in each datapath family's model —
 * the vSwitches, the ENIs, the per-pod fields (eni, memberEni) and the datapath's own options. A
 * dump carries addresses, not the cloud objects behind them, so each family's objects are the
 * smallest ones its model accepts for those addresses:
 *  - calico: the node subnets are racks behind a top-of-rack router each (lab/families/calico);
 *    pod addresses come from the nodes' podCIDR blocks, announced over BGP.
 *  - eniip, ipvlan: a pod address is a secondary IP of a secondary ENI of its node (Terway ENIIP,
 *    IPVLAN): one ENI per node and pod vSwitch, shared by the node's pods in that vSwitch.
 *  - eni: each pod owns an exclusive ENI of its node in its vSwitch (Terway's exclusive ENI mode).
 *  - trunk: each pod owns a member ENI (a VLAN on the node's trunk ENI eth1) in its vSwitch.
 * For the ENI-based families the pod addresses are VPC addresses: each /24 holding a pod is a vSwitch
 * too. A node takes at most 16 ENIs (the schema's limit, Alibaba Cloud's per-instance ENI quota
 * is of that order: https://www.alibabacloud.com/help/en/ecs/user-guide/overview-of-elastic-network-interfaces):
 * a dump that needs more is bad input for that datapath, exit 2, naming the node and the count.
 */
import { InputError, type InputIssue } from '../errors.ts';
import { cidrContains, intToIp, ipToInt } from '../net.ts';
import type { NodeObject, PodObject } from './objects.ts';

export const IMPORT_DATAPATHS = ['calico', 'eniip', 'ipvlan', 'eni', 'trunk'] as const;
export type ImportDatapath = (typeof IMPORT_DATAPATHS)[number];

type Raw = Record<string, unknown>;
export interface VSwitchEntry { name: string; cidr: string; gateway: string }

/** What a datapath adds to the starter topology: its cloud objects and its per-pod fields. */
export interface Placement {
  datapath: Raw;
  vswitches: VSwitchEntry[];
  routers?: Raw[];
  nodes: Raw[];
  /** Topology pod entries (merged by name with the dump's pods): the datapath's fields only. */
  pods: Raw[];
  /** Services are reached by eBPF on the pod's interface (ipvlan), not by kube-proxy's netfilter. */
  ebpfServices?: boolean;
}

const MAX_ENIS = 16; // the schema's enis maxItems: the primary ENI and 15 secondary ones
const FIRST_VLAN = 1001; // Terway's trunk member VLANs start there in the article's capture (topologies/trunk.yaml)

function slash24(ip: string): string {
  return `${intToIp((ipToInt(ip) & 0xffffff00) >>> 0)}/24`;
}

/** A gateway no node or pod holds: the .253 convention (Alibaba Cloud's vSwitch gateway), else the first free host. */
function gatewayFor(cidr: string, taken: ReadonlySet<string>): string {
  const base = ipToInt(cidr.split('/')[0]!);
  for (const host of [253, 1, 254, ...Array.from({ length: 250 }, (_, i) => i + 2)]) {
    const ip = intToIp(base + host);
    if (!taken.has(ip)) return ip;
  }
  return intToIp(base + 253);
}

/** One vSwitch per /24 holding one of the addresses, named vsw1… in address order. */
function vswitchesFor(ips: readonly string[], taken: ReadonlySet<string>): VSwitchEntry[] {
  return [...new Set(ips.map(slash24))].sort((a, b) => ipToInt(a.split('/')[0]!) - ipToInt(b.split('/')[0]!))
    .map((cidr, i) => ({ name: `vsw${i + 1}`, cidr, gateway: gatewayFor(cidr, taken) }));
}

const vswitchOf = (vs: readonly VSwitchEntry[], ip: string) => vs.find((v) => cidrContains(v.cidr, ip))!;

/** The pod's namespace when it is not the default one (the topology's default). */
const ns = (p: PodObject): Raw => (p.namespace && p.namespace !== 'default' ? { namespace: p.namespace } : {});

function primary(n: NodeObject, vs: readonly VSwitchEntry[]): Raw {
  return { name: 'eth0', vswitch: vswitchOf(vs, n.internalIP!).name, ip: n.internalIP };
}

/** Places the dump's nodes and pods into the model of `kind`; what the model cannot hold → InputError. */
export function placeDatapath(kind: ImportDatapath, nodes: readonly NodeObject[], pods: readonly PodObject[], coveringCidr: (ips: string[]) => string | undefined): Placement {
  const taken = new Set([...nodes.map((n) => n.internalIP!), ...pods.map((p) => p.podIP!)]);
  if (kind === 'calico') {
    // Calico: each rack's ToR (a bridge holding the gateway) reflects the nodes' pod blocks.
    const vswitches = vswitchesFor(nodes.map((n) => n.internalIP!), taken);
    const routers = vswitches.map((v, i) => ({ name: `tor${i + 1}`, as: 64512, ip: v.gateway, vswitch: v.name, peers: [] as string[] }));
    return {
      datapath: { kind }, vswitches, routers, pods: [],
      nodes: nodes.map((n) => {
        const v = vswitchOf(vswitches, n.internalIP!);
        // The Node's spec.podCIDR comes with the dump; without one, the block its pods span.
        const podCIDR = n.podCIDR ? undefined : coveringCidr(pods.filter((p) => p.nodeName === n.name).map((p) => p.podIP!));
        return { name: n.name, rack: routers[vswitches.indexOf(v)]!.name, ...(podCIDR ? { podCIDR } : {}), enis: [primary(n, vswitches)] };
      }),
    };
  }
  const vswitches = vswitchesFor([...nodes.map((n) => n.internalIP!), ...pods.map((p) => p.podIP!)], taken);
  const issues: InputIssue[] = [];
  const outNodes: Raw[] = [];
  const outPods: Raw[] = [];
  for (const n of nodes) {
    const mine = pods.filter((p) => p.nodeName === n.name);
    const enis: Raw[] = [primary(n, vswitches)];
    if (kind === 'trunk') {
      enis.push({ name: 'eth1', vswitch: enis[0]!.vswitch, trunk: true });
      mine.forEach((p, k) => outPods.push({ name: p.name, ...ns(p), node: n.name, ip: p.podIP, memberEni: { vlan: FIRST_VLAN + k, vswitch: vswitchOf(vswitches, p.podIP!).name } }));
    } else if (kind === 'eni') {
      mine.forEach((p, k) => {
        enis.push({ name: `eth${k + 1}`, vswitch: vswitchOf(vswitches, p.podIP!).name });
        outPods.push({ name: p.name, ...ns(p), node: n.name, ip: p.podIP, eni: `eth${k + 1}` });
      });
    } else {
      const pvs = [...new Set(mine.map((p) => vswitchOf(vswitches, p.podIP!).name))];
      pvs.forEach((v, k) => enis.push({ name: `eth${k + 1}`, vswitch: v }));
      for (const p of mine) outPods.push({ name: p.name, ...ns(p), node: n.name, ip: p.podIP, eni: `eth${pvs.indexOf(vswitchOf(vswitches, p.podIP!).name) + 1}` });
    }
    if (enis.length > MAX_ENIS) {
      const what = kind === 'eni' ? `${mine.length} pods, each with its own ENI` : `pods in ${enis.length - 1} vSwitches, one ENI each`;
      issues.push(n.src.issue(['metadata', 'name'], `node ${n.name} has ${what}: the ${kind} datapath gives a node at most ${MAX_ENIS - 1} secondary ENIs (import fewer pods, or use --datapath ${kind === 'eni' ? 'eniip' : 'calico'})`));
    }
    outNodes.push({ name: n.name, enis });
  }
  if (issues.length) throw new InputError(issues);
  return { datapath: { kind }, vswitches, nodes: outNodes, pods: outPods, ...(kind === 'ipvlan' ? { ebpfServices: true } : {}) };
}
