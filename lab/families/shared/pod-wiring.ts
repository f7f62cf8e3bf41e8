// Pieces several datapaths share: node namespace defaults, the primary ENI, pod servers.
import type { BuildContext, EniRecord } from '../../context.ts';
import { attachEni } from '../../fabric/vpc.ts';
import { vswitchOf } from '../../context.ts';
import type { ClusterNode, Pod } from '../../model.ts';
import {
  FROM_CONTAINER_PRIORITY, LINK_GATEWAY, localMacFor, macFor, TO_CONTAINER_PRIORITY, vethNameForPod,
} from '../../names.ts';
import { prefixLen } from '../../net.ts';

/** What Terway's EnsureHostNsConfig writes: forwarding on, rp_filter off, for all and default. */
export function nodeNamespace(ctx: BuildContext, node: ClusterNode): void {
  const { b } = ctx;
  b.namespace(node.name, 'node');
  for (const k of ['all', 'default']) {
    b.sysctl(node.name, `net.ipv4.conf.${k}.forwarding`, 1);
    b.sysctl(node.name, `net.ipv4.conf.${k}.rp_filter`, 0);
  }
  b.sysctl(node.name, 'net.ipv4.ip_forward', 1);
}

/** The node's primary ENI (eth0): the node IP with the vSwitch mask, default route via the gateway. */
export function primaryEni(ctx: BuildContext, node: ClusterNode): EniRecord {
  const e = node.enis[0]!;
  const v = vswitchOf(ctx.cluster, e.vswitch);
  const rec = attachEni(ctx, {
    node: node.name, name: e.name, vswitch: e.vswitch, mac: e.mac ?? macFor(`${node.name}/${e.name}`),
    ips: [node.ip], kind: 'primary', securityGroups: e.securityGroups, aliases: ['primary'],
  });
  ctx.b.ip(node.name,
    `address add ${node.ip}/${prefixLen(v.cidr)} dev ${e.name}`,
    `link set ${e.name} up`,
    `route add default via ${v.gateway} dev ${e.name}`);
  return rec;
}

/**
 * A tiny server per listening port in the pod, answering with a line naming the pod. TCP (and
 * SCTP): every connection gets an HTTP/1.0 response, then the server closes. UDP: every datagram
 * gets one datagram with the same line from the port it was sent to, then an empty one that ends
 * the prober at once instead of after its timeout. The agent serves them all from one process
 * (dlpod: a listening socket opened in each pod's namespace, one epoll loop, no fork per
 * connection); each step also carries its socat form, which the agent runs where dlpod is
 * missing: socat forks per connection but never execs; UDP-RECVFROM's child answers the sender,
 * shut-null sends the empty datagram (the prober's socat ends at it: null-eof), and what the client
 * sends goes to /dev/null (socat's dual address "read!!write",
 * http://www.dest-unreach.org/socat/doc/socat.html#ADDRESS_DUAL).
 */
export function podServers(ctx: BuildContext, pod: Pod): void {
  const file = (proto: string, port: number, http: boolean) => {
    const body = `pod=${pod.name} ip=${pod.ip} port=${port}\n`;
    const resp = http ? `HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}` : body;
    return ctx.b.file(`resp-${pod.name}-${proto}${port}`, resp);
  };
  for (const port of pod.listen) {
    const f = file('', port, true);
    ctx.b.server(pod.name, `srv-${pod.name}-${port}`, { proto: 'tcp', port, file: f }, ['socat', '-U', `TCP-LISTEN:${port},fork,reuseaddr,backlog=128`, `OPEN:${f},rdonly`]);
  }
  for (const port of pod.listenUdp) {
    const f = file('udp', port, false);
    ctx.b.server(pod.name, `srv-${pod.name}-udp${port}`, { proto: 'udp', port, file: f }, ['socat', `UDP-RECVFROM:${port},fork,shut-null`, `OPEN:${f},rdonly!!OPEN:/dev/null,wronly`]);
  }
  if (pod.listenSctp.length) ctx.b.feature('sctp');
  for (const port of pod.listenSctp) {
    const f = file('sctp', port, true);
    ctx.b.server(pod.name, `srv-${pod.name}-sctp${port}`, { proto: 'sctp', port, file: f }, ['socat', '-U', `SCTP-LISTEN:${port},fork,reuseaddr,backlog=128`, `OPEN:${f},rdonly`]);
  }
}

/**
 * A pod wired as Terway's policy-route (veth) datapath does it — ENIIP pods and the article's
 * trunk pods alike: eth0 podIP/32 with `default via 169.254.1.1 onlink` and a PERMANENT
 * neighbour to the host veth's MAC; host `cali<hash>` with `podIP/32 scope link`, rule 512
 * `to pod lookup main` and rule 2048 `from pod [iif cali] lookup <table of the pod's ENI>`.
 */
export function policyRoutedPod(ctx: BuildContext, node: ClusterNode, pod: Pod, table: number): void {
  const { b, cluster } = ctx;
  const cali = vethNameForPod(pod.name, pod.namespace);
  const caliMac = localMacFor(`${b.labId}/${node.name}/${cali}`);
  b.namespace(pod.name, 'pod');
  // Created from the node's batch (one process per node, not per pod), peer straight into the pod.
  b.veth(
    { object: node.name, name: cali, mac: caliMac, aliases: [`cali(${pod.name})`] },
    { object: pod.name, name: 'eth0', mac: localMacFor(`${b.labId}/${pod.name}/eth0`) },
  );
  b.ip(pod.name,
    `address add ${pod.ip}/32 dev eth0`,
    'link set eth0 up',
    `neigh replace ${LINK_GATEWAY} lladdr ${caliMac} dev eth0 nud permanent`,
    `route add default via ${LINK_GATEWAY} dev eth0 onlink`);
  const iif = cluster.datapath.legacyIifRule ? ` iif ${cali}` : '';
  b.ip(node.name,
    `link set ${cali} up`,
    `route add ${pod.ip}/32 dev ${cali} scope link`,
    `rule add to ${pod.ip} lookup main pref ${TO_CONTAINER_PRIORITY}`,
    `rule add from ${pod.ip}${iif} lookup ${table} pref ${FROM_CONTAINER_PRIORITY}`);
}
