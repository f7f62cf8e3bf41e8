// kube-proxy's iptables layout before 1.24 (KUBE-XLB for externalTrafficPolicy=Local, KUBE-MARK-DROP in
// KUBE-FW, `proxy.FilterEndpoints`), as `syncProxyRules` writes it in
// https://github.com/kubernetes/kubernetes/blob/v1.23.0/pkg/proxy/iptables/proxier.go; where the
// masquerade jumps sit before 1.21 follows release.ts.
import type { Options, PortInfo } from './model.ts';
import { endpointRules } from './model.ts';
import {
  chainLine,
  declareNat,
  KUBE_EXTERNAL_SERVICES,
  KUBE_FIREWALL,
  KUBE_FORWARD,
  KUBE_MARK_DROP,
  KUBE_MARK_MASQ,
  KUBE_NODEPORTS,
  KUBE_POSTROUTING,
  KUBE_SERVICES,
  line,
  q,
  rangesHoldNode,
  writeEndpointChain,
  writeKubeForward,
  writeLbRules,
  writeMasqueradeMachinery,
  writeNodePortsTail,
  writeStaleChainDeletes,
  type Buffers,
  type Part,
} from './writers.ts';

/** Writes every service port in the < 1.24 layout into `b`; returns the active nat chains. */
export function buildXlb(b: Buffers, o: Options, ports: readonly PortInfo[]): Set<string> {
  for (const c of [KUBE_SERVICES, KUBE_EXTERNAL_SERVICES, KUBE_FORWARD, KUBE_NODEPORTS]) b.filterChains.push(chainLine(c));
  for (const c of [KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ]) b.natChains.push(chainLine(c));
  // 1.23 kube-proxy only EnsureChain()s KUBE-MARK-DROP (kubelet fills it); it is declared here so the
  // single payload is self-contained.
  b.natChains.push(chainLine(KUBE_MARK_DROP));
  writeMasqueradeMachinery(b, o);

  if (o.kubelet) {
    // kubelet ≤1.23 (kubelet_network_linux.go syncNetworkUtil).
    b.natRules.push(line('-A', KUBE_MARK_DROP, '-j', 'MARK', '--or-mark', o.dropMark));
    b.filterChains.push(chainLine(KUBE_FIREWALL));
    b.filterRules.push(
      line(
        '-A', KUBE_FIREWALL,
        '-m', 'comment', '--comment', q('kubernetes firewall for dropping marked packets'),
        '-m', 'mark', '--mark', `${o.dropMark}/${o.dropMark}`,
        '-j', 'DROP',
      ),
    );
    b.filterRules.push(
      line(
        '-A', KUBE_FIREWALL,
        '-m', 'comment', '--comment', q('block incoming localnet connections'),
        '--dst', '127.0.0.0/8', '!', '--src', '127.0.0.0/8',
        '-m', 'conntrack', '!', '--ctstate', 'RELATED,ESTABLISHED,DNAT',
        '-j', 'DROP',
      ),
    );
  }

  const active = new Set<string>();
  const jumpIfNotLocal = (args: Part[], to: string): Part[] =>
    o.clusterCIDR ? [...args, '!', '-s', o.clusterCIDR, '-j', to] : [...args, '-j', to];

  for (const p of ports) {
    const { spn, proto } = p;
    const port = String(p.port.port);
    const clusterIP = p.svc.clusterIP;
    // apiservice.RequestsOnlyLocalTraffic: NodePort/LoadBalancer with externalTrafficPolicy=Local.
    const nodeLocalExternal =
      (p.type === 'NodePort' || p.type === 'LoadBalancer') && p.svc.externalTrafficPolicy === 'Local';
    const nodeLocalInternal = p.svc.internalTrafficPolicy === 'Local';
    // proxy.FilterEndpoints (ServiceInternalTrafficPolicy is beta/on in 1.23; topology hints off).
    const eps = nodeLocalExternal ? p.endpoints : nodeLocalInternal ? p.endpoints.filter((e) => e.isLocal) : p.endpoints;
    const hasEndpoints = eps.some((e) => e.ready);
    const readyEps = eps.filter((e) => e.ready);
    const localEps = nodeLocalExternal ? eps.filter((e) => e.isLocal && e.ready) : [];
    const declared: string[] = [];

    // Per-endpoint chains (written first before 1.24).
    for (const ep of readyEps) {
      declareNat(b, active, declared, ep.chain);
      writeEndpointChain(b, o, p, ep);
    }

    const svcChain = p.chains.svc;
    if (hasEndpoints) declareNat(b, active, declared, svcChain);
    const xlbChain = p.chains.xlb;
    if (nodeLocalExternal) declareNat(b, active, declared, xlbChain);
    // Where the KUBE-MARK-MASQ jumps go: the service chain since 1.21, KUBE-SERVICES / KUBE-NODEPORTS
    // (in front of the capturing rule) before (release.ts).
    const masqIn = (outer: string): string => (o.release.masqInServiceChain ? svcChain : outer);

    // Capture the clusterIP.
    if (hasEndpoints) {
      const args: Part[] = [
        '-m', 'comment', '--comment', q(`${spn} cluster IP`),
        '-m', proto, '-p', proto, '-d', clusterIP, '--dport', port,
      ];
      if (o.masqueradeAll) {
        b.natRules.push(line('-A', masqIn(KUBE_SERVICES), ...args, '-j', KUBE_MARK_MASQ));
      } else if (o.clusterCIDR) {
        b.natRules.push(line('-A', masqIn(KUBE_SERVICES), ...jumpIfNotLocal(args, KUBE_MARK_MASQ)));
      }
      b.natRules.push(line('-A', KUBE_SERVICES, ...args, '-j', svcChain));
    } else {
      b.filterRules.push(
        line(
          '-A', KUBE_SERVICES,
          '-m', 'comment', '--comment', q(`${spn} has no endpoints`),
          '-m', proto, '-p', proto, '-d', clusterIP, '--dport', port,
          '-j', 'REJECT',
        ),
      );
    }

    // Capture externalIPs.
    for (const eip of p.externalIPs) {
      if (hasEndpoints) {
        const args: Part[] = [
          '-m', 'comment', '--comment', q(`${spn} external IP`),
          '-m', proto, '-p', proto, '-d', eip, '--dport', port,
        ];
        let destChain = xlbChain;
        if (!nodeLocalExternal) {
          destChain = svcChain;
          b.natRules.push(line('-A', masqIn(KUBE_SERVICES), ...jumpIfNotLocal(args, KUBE_MARK_MASQ)));
        }
        b.natRules.push(line('-A', KUBE_SERVICES, ...args, '-j', destChain));
      } else {
        b.filterRules.push(
          line(
            '-A', KUBE_EXTERNAL_SERVICES,
            '-m', 'comment', '--comment', q(`${spn} has no endpoints`),
            '-m', proto, '-p', proto, '-d', eip, '--dport', port,
            '-j', 'REJECT',
          ),
        );
      }
    }

    // Capture load-balancer ingress.
    const fwChain = p.chains.fw;
    for (const lbip of p.lbIPs) {
      if (hasEndpoints) {
        if (!active.has(fwChain)) declareNat(b, active, declared, fwChain);
        b.natRules.push(
          line(
            '-A', KUBE_SERVICES,
            '-m', 'comment', '--comment', q(`${spn} loadbalancer IP`),
            '-m', proto, '-p', proto, '-d', lbip, '--dport', port,
            '-j', fwChain,
          ),
        );
        const args: Part[] = ['-A', fwChain, '-m', 'comment', '--comment', q(`${spn} loadbalancer IP`)];
        let chosen = xlbChain;
        if (!nodeLocalExternal) {
          b.natRules.push(line(...args, '-j', KUBE_MARK_MASQ));
          chosen = svcChain;
        }
        if (p.sourceRanges.length === 0) {
          b.natRules.push(line(...args, '-j', chosen));
        } else {
          for (const src of p.sourceRanges) b.natRules.push(line(...args, '-s', src, '-j', chosen));
          if (rangesHoldNode(o, p.sourceRanges)) b.natRules.push(line(...args, '-s', lbip, '-j', chosen));
        }
        b.natRules.push(line(...args, '-j', KUBE_MARK_DROP));
      } else {
        b.filterRules.push(
          line(
            '-A', KUBE_EXTERNAL_SERVICES,
            '-m', 'comment', '--comment', q(`${spn} has no endpoints`),
            '-m', proto, '-p', proto, '-d', lbip, '--dport', port,
            '-j', 'REJECT',
          ),
        );
      }
    }

    // Capture nodeports (nodeAddresses is never empty: default is the zero CIDR).
    if (p.nodePort !== 0) {
      if (hasEndpoints) {
        const args: Part[] = [
          '-m', 'comment', '--comment', spn,
          '-m', proto, '-p', proto, '--dport', String(p.nodePort),
        ];
        if (!nodeLocalExternal) {
          b.natRules.push(line('-A', masqIn(KUBE_NODEPORTS), ...args, '-j', KUBE_MARK_MASQ));
          b.natRules.push(line('-A', KUBE_NODEPORTS, ...args, '-j', svcChain));
        } else {
          // Fix localhost martian source error.
          b.natRules.push(line('-A', KUBE_NODEPORTS, ...args, '-s', '127.0.0.0/8', '-j', KUBE_MARK_MASQ));
          b.natRules.push(line('-A', KUBE_NODEPORTS, ...args, '-j', xlbChain));
        }
      } else {
        b.filterRules.push(
          line(
            '-A', KUBE_EXTERNAL_SERVICES,
            '-m', 'comment', '--comment', q(`${spn} has no endpoints`),
            '-m', 'addrtype', '--dst-type', 'LOCAL',
            '-m', proto, '-p', proto, '--dport', String(p.nodePort),
            '-j', 'REJECT',
          ),
        );
      }
    }

    const hcnp = p.svc.healthCheckNodePort ?? 0;
    if (hcnp !== 0 && p.type === 'LoadBalancer' && nodeLocalExternal) {
      b.filterRules.push(
        line(
          '-A', KUBE_NODEPORTS,
          '-m', 'comment', '--comment', q(`${spn} health check node port`),
          '-m', 'tcp', '-p', 'tcp', '--dport', String(hcnp),
          '-j', 'ACCEPT',
        ),
      );
    }

    p.report.declaredChains = declared;
    p.report.hasEndpoints = hasEndpoints;
    if (!hasEndpoints) continue;

    const lbComment = (): string => spn;
    writeLbRules(b, o, p, svcChain, readyEps, lbComment);
    p.report.clusterEndpoints = endpointRules(readyEps);
    if (!nodeLocalExternal) continue;

    if (o.clusterCIDR) {
      b.natRules.push(
        line(
          '-A', xlbChain,
          '-m', 'comment', '--comment', q('Redirect pods trying to reach external loadbalancer VIP to clusterIP'),
          '-s', o.clusterCIDR, '-j', svcChain,
        ),
      );
    }
    b.natRules.push(
      line(
        '-A', xlbChain,
        '-m', 'comment', '--comment', q(`masquerade LOCAL traffic for ${spn} LB IP`),
        '-m', 'addrtype', '--src-type', 'LOCAL', '-j', KUBE_MARK_MASQ,
      ),
    );
    b.natRules.push(
      line(
        '-A', xlbChain,
        '-m', 'comment', '--comment', q(`route LOCAL traffic for ${spn} LB IP to service chain`),
        '-m', 'addrtype', '--src-type', 'LOCAL', '-j', svcChain,
      ),
    );
    if (localEps.length === 0) {
      b.natRules.push(line('-A', xlbChain, '-m', 'comment', '--comment', q(`${spn} has no local endpoints`), '-j', KUBE_MARK_DROP));
    } else {
      writeLbRules(b, o, p, xlbChain, localEps, lbComment);
      p.report.localEndpoints = endpointRules(localEps);
    }
  }

  writeStaleChainDeletes(b, o, active);

  // Finally, tail-call to the nodeports chain.
  writeNodePortsTail(b, o, false);

  writeKubeForward(b, o, true);
  return active;
}
