// What every compiler module sees: the effective cluster (scenario overrides applied), the
// plan builder, and the registry of ENIs (who owns which address in the VPC).
import type { Cluster, Scenario, Topology } from './model.ts';
import type { IfaceDecl, PlanBuilder } from './plan.ts';

export interface EniRecord {
  node: string;
  name: string; // interface name on the node (eth1, or eth1.1005 for a member ENI)
  vswitch: string;
  mac: string;
  ips: string[]; // addresses the VPC delivers to this ENI
  port: string; // interface name in the vSwitch namespace
  nodeIf: IfaceDecl;
  kind: 'primary' | 'secondary' | 'trunk' | 'member';
  securityGroups: string[];
  vlan?: number;
  /** The vSwitch namespace holding `port` when it is not `vswitch`: a member ENI of another
   *  vSwitch, delivered by its trunk's vSwitch (the VPC router routes its /32 there). */
  portVswitch?: string;
}

export interface BuildContext {
  topo: Topology;
  scenario?: Scenario;
  cluster: Cluster;
  b: PlanBuilder;
  enis: EniRecord[];
}

/** The scenario's overrides applied to the cluster's options. */
export function effectiveCluster(topo: Topology, scenario?: Scenario): Cluster {
  const c = topo.cluster;
  if (!scenario) return c;
  const bindings = scenario.securityGroupBindings;
  return {
    ...c,
    datapath: { ...c.datapath, ...scenario.datapath },
    serviceProxy: { ...c.serviceProxy, ...scenario.serviceProxy },
    nodes: bindings
      ? c.nodes.map((n) => ({ ...n, enis: n.enis.map((e) => ({ ...e, securityGroups: bindings[`${n.name}/${e.name}`] ?? e.securityGroups })) }))
      : c.nodes,
    services: scenario.endpoints
      ? c.services.map((s) => (scenario.endpoints![s.name] ? { ...s, endpoints: scenario.endpoints![s.name]! } : s))
      : c.services,
    pods: bindings
      ? c.pods.map((p) => (p.memberEni && bindings[p.name] ? { ...p, memberEni: { ...p.memberEni, securityGroups: bindings[p.name]! } } : p))
      : c.pods,
  };
}

export function podsOn(cluster: Cluster, node: string) {
  return cluster.pods.filter((p) => p.node === node);
}

export function vswitchOf(cluster: Cluster, name: string) {
  const v = cluster.vswitches.find((x) => x.name === name);
  if (!v) throw new Error(`unknown vswitch ${name}`);
  return v;
}
