// Semantic checks every topology gets, whatever its family: names are one space (each becomes
// a namespace), addresses are unique and inside the vSwitch they sit on, references between
// cluster objects resolve. Then each family in use checks its own fields
// (lab/families/<kind>/validate.ts), and the scenarios' references are checked
// (./scenario-refs.ts).
import type { InputIssue } from '../errors.ts';
import { familyFor } from '../families/registry.ts';
import type { PathSeg, SemanticContext } from '../families/types.ts';
import type { Topology } from '../model.ts';
import { cidrContains, cidrsOverlap } from '../net.ts';
import { targetPortOn } from '../services/endpoints.ts';
import type { Locator } from './locate.ts';
import { checkScenarioRefs } from './scenario-refs.ts';

/** Every semantic problem of `t`, located through `loc`. */
export function checkSemantics(t: Topology, loc: Locator): InputIssue[] {
  const issues: InputIssue[] = [];
  const add = (p: PathSeg[], msg: string) => issues.push(loc.issue(p, msg));
  const s: SemanticContext = {
    topology: t, add,
    nodes: new Map(t.cluster.nodes.map((n) => [n.name, n])),
    pods: new Map(t.cluster.pods.map((p) => [p.name, p])),
    vswitches: new Map(t.cluster.vswitches.map((v) => [v.name, v])),
    groups: new Set(t.cluster.securityGroups.map((g) => g.name)),
  };
  checkCluster(s);
  // A family's checks run once if the cluster or any scenario uses it.
  const kinds = new Set([t.cluster.datapath.kind, ...t.scenarios.flatMap((x) => (x.datapath.kind ? [x.datapath.kind] : []))]);
  for (const k of kinds) familyFor(k).validate(s);
  checkScenarioRefs(s);
  return issues;
}

function checkCluster(s: SemanticContext): void {
  const t = s.topology;
  const c = t.cluster;
  const add = s.add;

  // Every node, pod, vSwitch, SLB, client and router becomes a namespace: names are one space.
  const owner = new Map<string, string>();
  const claim = (name: string, what: string, p: PathSeg[]) => {
    const prev = owner.get(name);
    if (prev) add(p, `name "${name}" is already used by ${prev}`);
    else owner.set(name, what);
  };
  c.vswitches.forEach((v, i) => claim(v.name, `vswitch ${i}`, ['cluster', 'vpc', 'vswitches', i, 'name']));
  c.nodes.forEach((n, i) => claim(n.name, `node ${i}`, ['cluster', 'nodes', i, 'name']));
  c.pods.forEach((p, i) => claim(p.name, `pod ${i}`, ['cluster', 'pods', i, 'name']));
  c.slbs.forEach((s, i) => claim(s.name, `slb ${i}`, ['cluster', 'slbs', i, 'name']));
  c.clients.forEach((s, i) => claim(s.name, `client ${i}`, ['cluster', 'clients', i, 'name']));
  c.routers.forEach((s, i) => claim(s.name, `router ${i}`, ['cluster', 'routers', i, 'name']));
  for (const reserved of ['vpc', 'all']) {
    if (owner.has(reserved)) add(['cluster'], `"${reserved}" is a reserved name (the VPC router / the CLI's --all)`);
  }

  // Addresses: unique across the lab, inside the vSwitch they sit on.
  const ipOwner = new Map<string, string>();
  const claimIp = (ip: string, what: string, p: PathSeg[]) => {
    const prev = ipOwner.get(ip);
    if (prev) add(p, `duplicate IP ${ip}: already used by ${prev}`);
    else ipOwner.set(ip, what);
  };
  const vsw = s.vswitches;
  c.vswitches.forEach((v, i) => {
    if (!cidrContains(v.cidr, v.gateway)) add(['cluster', 'vpc', 'vswitches', i, 'gateway'], `gateway ${v.gateway} is not inside ${v.cidr}`);
    claimIp(v.gateway, `vswitch ${v.name} gateway`, ['cluster', 'vpc', 'vswitches', i, 'gateway']);
    for (let j = 0; j < i; j++) {
      if (cidrsOverlap(v.cidr, c.vswitches[j]!.cidr)) add(['cluster', 'vpc', 'vswitches', i, 'cidr'], `${v.cidr} overlaps vswitch ${c.vswitches[j]!.name} (${c.vswitches[j]!.cidr})`);
    }
  });
  c.nodes.forEach((n, i) => {
    const enis = new Set<string>();
    n.enis.forEach((e, j) => {
      const p: PathSeg[] = ['cluster', 'nodes', i, 'enis', j];
      if (enis.has(e.name)) add([...p, 'name'], `duplicate ENI name "${e.name}" on node ${n.name}`);
      enis.add(e.name);
      const v = vsw.get(e.vswitch);
      if (!v) add([...p, 'vswitch'], `unknown vswitch "${e.vswitch}" (known: ${[...vsw.keys()].join(', ')})`);
      if (e.primary && !e.ip) add([...p], 'the primary ENI (the first) needs "ip": the node IP');
      if (!e.primary && e.ip) add([...p, 'ip'], 'only the primary ENI carries an ip; pods take secondary IPs');
      if (e.ip) {
        claimIp(e.ip, `node ${n.name}`, [...p, 'ip']);
        if (v && !cidrContains(v.cidr, e.ip)) add([...p, 'ip'], `${e.ip} is not inside vswitch ${v.name} (${v.cidr})`);
      }
    });
  });
  const { nodes, pods } = s;
  c.pods.forEach((p, i) => {
    const path: PathSeg[] = ['cluster', 'pods', i];
    claimIp(p.ip, `pod ${p.name}`, [...path, 'ip']);
    const n = nodes.get(p.node);
    if (!n) {
      add([...path, 'node'], `unknown node "${p.node}"`);
      return;
    }
    if (p.eni) {
      const e = n.enis.find((x) => x.name === p.eni);
      if (!e) add([...path, 'eni'], `node ${n.name} has no ENI "${p.eni}" (has: ${n.enis.map((x) => x.name).join(', ')})`);
      else if (!e.primary) {
        const v = vsw.get(e.vswitch);
        if (v && !cidrContains(v.cidr, p.ip)) add([...path, 'ip'], `${p.ip} is not inside ${e.name}'s vswitch ${v.name} (${v.cidr})`);
      }
    }
  });
  const svcNames = new Set<string>();
  c.services.forEach((s, i) => {
    const p: PathSeg[] = ['cluster', 'services', i];
    if (svcNames.has(`${s.namespace}/${s.name}`)) add([...p, 'name'], `duplicate service ${s.namespace}/${s.name}`);
    svcNames.add(`${s.namespace}/${s.name}`);
    claimIp(s.clusterIP, `service ${s.name} clusterIP`, [...p, 'clusterIP']);
    if (Object.keys(s.selector).length && !s.endpoints.length && !s.sliceEndpoints) add([...p, 'selector'], `selector ${JSON.stringify(s.selector)} matches no pod`);
    const [lo, hi] = c.serviceProxy.nodePortRange;
    s.ports.forEach((port, j) => {
      if (port.nodePort !== undefined && (port.nodePort < lo || port.nodePort > hi)) {
        add([...p, 'ports', j, 'nodePort'], `nodePort ${port.nodePort} is outside the node port range ${lo}-${hi} (serviceProxy.nodePortRange)`);
      }
      for (const e of s.endpoints) {
        const target = targetPortOn(pods.get(e)!, port);
        const field = port.protocol === 'UDP' ? 'listenUdp' : port.protocol === 'SCTP' ? 'listenSctp' : 'listen';
        if (target !== undefined && !pods.get(e)![field].includes(target)) add([...p, 'ports'], `endpoint pod ${e} does not listen on ${port.protocol} targetPort ${target} (add it to the pod's "${field}")`);
      }
    });
  });
  const slbVips = new Set<string>();
  c.slbs.forEach((s, i) => {
    if (slbVips.has(s.vip)) add(['cluster', 'slbs', i, 'vip'], `duplicate SLB VIP ${s.vip}`);
    slbVips.add(s.vip);
    s.backends.forEach((b, j) => {
      if (!pods.has(b.pod)) add(['cluster', 'slbs', i, 'backends', j, 'pod'], `unknown pod "${b.pod}"`);
    });
  });
  c.clients.forEach((x, i) => claimIp(x.ip, `client ${x.name}`, ['cluster', 'clients', i, 'ip']));
  const routers = new Map(c.routers.map((x) => [x.name, x]));
  c.clients.forEach((x, i) => {
    if (x.router && !routers.has(x.router)) add(['cluster', 'clients', i, 'router'], `unknown router "${x.router}" (known: ${[...routers.keys()].join(', ') || 'none'})`);
  });
  const groups = s.groups;
  c.securityGroups.forEach((g, i) => g.rules.forEach((rule, j) => {
    if ('group' in rule.peer && !groups.has(rule.peer.group)) add(['cluster', 'securityGroups', i, 'rules', j, 'group'], `unknown security group "${rule.peer.group}"`);
    if (rule.ports && rule.ports[0] > rule.ports[1]) add(['cluster', 'securityGroups', i, 'rules', j, 'ports'], `empty port range ${rule.ports.join('-')}`);
  }));
  c.nodes.forEach((n, i) => n.enis.forEach((e, j) => e.securityGroups.forEach((g, k) => {
    if (!groups.has(g)) add(['cluster', 'nodes', i, 'enis', j, 'securityGroups', k], `unknown security group "${g}"`);
  })));
  t.scenarios.forEach((s, i) => Object.entries(s.securityGroupBindings ?? {}).forEach(([key, list]) => {
    const [node, eni] = key.split('/');
    const known = eni ? c.nodes.some((n) => n.name === node && n.enis.some((e) => e.name === eni)) : c.pods.some((p) => p.name === key && p.memberEni);
    if (!known) add(['scenarios', i, 'securityGroupBindings', key], `"${key}" is neither NODE/ENI nor a pod with a member ENI`);
    list.forEach((g, k) => { if (!groups.has(g)) add(['scenarios', i, 'securityGroupBindings', key, k], `unknown security group "${g}"`); });
  }));

}
