// The scenarios' references: unique ids, and every name, address and interface a probe or an
// expectation mentions resolves in the topology (./refs.ts).
import type { PathSeg, SemanticContext } from '../families/types.ts';
import { checkAddressRef, checkIfaceRef } from './refs.ts';

export function checkScenarioRefs(s: SemanticContext): void {
  const t = s.topology;
  const c = t.cluster;
  const { add, nodes, pods, groups } = s;
  const routers = new Map(c.routers.map((x) => [x.name, x]));
  // Scenarios: unique ids, references that resolve.
  const ids = new Set<string>();
  t.scenarios.forEach((s, i) => {
    if (ids.has(s.id)) add(['scenarios', i, 'id'], `duplicate scenario id "${s.id}"`);
    ids.add(s.id);
    for (const [svc, list] of Object.entries(s.endpoints ?? {})) {
      if (!c.services.some((x) => x.name === svc)) add(['scenarios', i, 'endpoints', svc], `unknown service "${svc}"`);
      list.forEach((pod, k) => { if (!pods.has(pod)) add(['scenarios', i, 'endpoints', svc, k], `unknown pod "${pod}"`); });
    }
    s.probes.forEach((p, j) => {
      const pp: PathSeg[] = ['scenarios', i, 'probes', j];
      const from = p.from;
      if (!nodes.has(from) && !pods.has(from) && !c.clients.some((x) => x.name === from)) add([...pp, 'from'], `"${from}" is not a node, pod or client`);
      const err = checkAddressRef(p.to, t);
      if (err) add([...pp, 'to'], err);
      if (p.backend && !pods.has(p.backend)) add([...pp, 'backend'], `unknown pod "${p.backend}"`);
      for (const [k, list] of [['seen', p.expect.seen], ['notSeen', p.expect.notSeen]] as const) {
        list.forEach((ce, m) => {
          const e1 = checkIfaceRef(ce.at, t);
          if (e1) add([...pp, 'expect', k, m], e1);
          for (const a of [ce.src, ce.dst]) {
            const e2 = a ? checkAddressRef(a, t) : undefined;
            if (e2) add([...pp, 'expect', k, m], e2);
          }
        });
      }
      const verdicts: [PathSeg[], { group: string; at: string }][] = [
        ...(p.expect.droppedBy ? [[['droppedBy'], p.expect.droppedBy] as [PathSeg[], { group: string; at: string }]] : []),
        ...p.expect.admittedBy.map((x, m) => [['admittedBy', m], x] as [PathSeg[], { group: string; at: string }]),
      ];
      for (const [k, v] of verdicts) {
        const e1 = checkIfaceRef(v.at, t);
        if (e1) add([...pp, 'expect', ...k, 'at'], e1);
        else if (!c.vswitches.some((x) => x.name === v.at.split(':')[0])) add([...pp, 'expect', ...k, 'at'], `"${v.at}" is not a vSwitch port: security groups act at an ENI's port in its vSwitch (VSWITCH:IFNAME, VSWITCH:vlan(POD))`);
        if (!groups.has(v.group)) add([...pp, 'expect', ...k, 'group'], `unknown security group "${v.group}"`);
      }
      (p.expect.path ?? []).forEach((h, m) => {
        const e1 = checkIfaceRef(h, t);
        if (e1) add([...pp, 'expect', 'path', m], e1);
      });
      p.expect.addressNeverSeen.forEach((a, m) => {
        const e1 = checkAddressRef(a, t);
        if (e1) add([...pp, 'expect', 'addressNeverSeen', m], e1);
      });
      p.expect.conntrack.forEach((ct, m) => {
        if (!nodes.has(ct.node)) add([...pp, 'expect', 'conntrack', m, 'node'], `unknown node "${ct.node}"`);
        for (const a of [ct.orig.src, ct.orig.dst, ct.reply?.src, ct.reply?.dst]) {
          const e1 = a ? checkAddressRef(a, t) : undefined;
          if (e1) add([...pp, 'expect', 'conntrack', m], e1);
        }
      });
      const bgpSpeaker = (name: string) => nodes.has(name) || routers.has(name);
      (p.expect.iptables ?? []).forEach((x, m) => {
        if (!nodes.has(x.node)) add([...pp, 'expect', 'iptables', m, 'node'], `unknown node "${x.node}"`);
      });
      (p.expect.bgpSessions ?? []).forEach((x, m) => {
        if (!bgpSpeaker(x.router)) add([...pp, 'expect', 'bgpSessions', m, 'router'], `"${x.router}" is not a router or node`);
        if (x.peer && !bgpSpeaker(x.peer)) add([...pp, 'expect', 'bgpSessions', m, 'peer'], `"${x.peer}" is not a router or node`);
      });
      (p.expect.routes ?? []).forEach((x, m) => {
        const rp: PathSeg[] = [...pp, 'expect', 'routes', m];
        if (!bgpSpeaker(x.router)) add([...rp, 'router'], `"${x.router}" is not a router or node`);
        if (x.learnedFrom && !bgpSpeaker(x.learnedFrom)) add([...rp, 'learnedFrom'], `"${x.learnedFrom}" is not a router or node`);
        const e1 = x.via ? checkAddressRef(x.via, t) : undefined;
        if (e1) add([...rp, 'via'], e1);
        const e2 = x.dev ? checkIfaceRef(`${x.router}:${x.dev}`, t) : undefined;
        if (e2) add([...rp, 'dev'], e2);
      });
      (p.expect.vethPeer ?? []).forEach((x, m) => {
        for (const k of ['at', 'peer'] as const) {
          const e1 = checkIfaceRef(x[k], t);
          if (e1) add([...pp, 'expect', 'vethPeer', m, k], e1);
        }
      });
      (p.expect.ebpfLb ?? []).forEach((v, m) => {
        if (!nodes.has(v.node)) add([...pp, 'expect', 'ebpfLb', m, 'node'], `unknown node "${v.node}"`);
        const e1 = checkAddressRef(v.service, t);
        if (e1) add([...pp, 'expect', 'ebpfLb', m, 'service'], e1);
        v.backends.forEach((b, q) => { if (!pods.has(b)) add([...pp, 'expect', 'ebpfLb', m, 'backends', q], `unknown pod "${b}"`); });
      });
      p.expect.ipvs.forEach((v, m) => {
        if (!nodes.has(v.node)) add([...pp, 'expect', 'ipvs', m, 'node'], `unknown node "${v.node}"`);
        const e1 = checkAddressRef(v.service, t);
        if (e1) add([...pp, 'expect', 'ipvs', m, 'service'], e1);
        v.backends.forEach((b, q) => { if (!pods.has(b)) add([...pp, 'expect', 'ipvs', m, 'backends', q], `unknown pod "${b}"`); });
      });
    });
  });

}
