// kube-proxy's iptables layout since 1.24 (KUBE-EXT / KUBE-SVL / KUBE-FW + KUBE-PROXY-FIREWALL), as
// `syncProxyRules` and `writeServiceToEndpointRules` write it in
// https://github.com/kubernetes/kubernetes/blob/v1.31.0/pkg/proxy/iptables/proxier.go; the
// endpoints each policy uses come from ./policy.ts.
import type { EpInfo, Options, PortInfo } from './model.ts';
import { categorizeEndpoints, trafficPolicies } from './policy.ts';
import { endpointRules } from './model.ts';
import { isLoopback } from './marks.ts';
import {
  chainLine,
  declareNat,
  KUBE_EXTERNAL_SERVICES,
  KUBE_FIREWALL,
  KUBE_FORWARD,
  KUBE_MARK_MASQ,
  KUBE_NODEPORTS,
  KUBE_POSTROUTING,
  KUBE_PROXY_FIREWALL,
  KUBE_SERVICES,
  line,
  NFACCT_LOCALHOST_NODEPORTS,
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

/** Writes every service port in the ≥ 1.24 layout into `b`; returns the active nat chains. */
export function buildExt(b: Buffers, o: Options, ports: readonly PortInfo[]): Set<string> {
  for (const c of [KUBE_SERVICES, KUBE_EXTERNAL_SERVICES, KUBE_FORWARD, KUBE_NODEPORTS, KUBE_PROXY_FIREWALL]) {
    b.filterChains.push(chainLine(c));
  }
  for (const c of [KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ]) b.natChains.push(chainLine(c));
  writeMasqueradeMachinery(b, o);

  // KUBE-FIREWALL: kube-proxy writes the anti-martian rule when localhost NodePorts are on; kubelet
  // writes the identical rule regardless; the jumps INPUT/OUTPUT → KUBE-FIREWALL need the chain.
  if (o.localhostNodePorts || o.kubelet || o.jumps !== 'none') {
    b.filterChains.push(chainLine(KUBE_FIREWALL));
    if (o.localhostNodePorts || o.kubelet) {
      b.filterRules.push(
        line(
          '-A', KUBE_FIREWALL,
          '-m', 'comment', '--comment', q('block incoming localnet connections'),
          '-d', '127.0.0.0/8', '!', '-s', '127.0.0.0/8',
          '-m', 'conntrack', '!', '--ctstate', 'RELATED,ESTABLISHED,DNAT',
          '-j', 'DROP',
        ),
      );
    }
  }

  const active = new Set<string>();

  for (const p of ports) {
    const { spn, proto } = p;
    const port = String(p.port.port);
    const clusterIP = p.svc.clusterIP;
    const pol = trafficPolicies(p);
    const { externalLocal: externalPolicyLocal, internalLocal: internalPolicyLocal, externallyAccessible } = pol;
    const cat = categorizeEndpoints(p.endpoints, pol.usesCluster, pol.usesLocal);
    const hasEndpoints = cat.hasAny;
    const clusterPolicyChain = p.chains.svc;
    const usesClusterPolicyChain = cat.cluster.length > 0 && pol.usesCluster;
    const localPolicyChain = p.chains.svl;
    const usesLocalPolicyChain = cat.local.length > 0 && pol.usesLocal;

    let internalPolicyChain = clusterPolicyChain;
    let hasInternalEndpoints = hasEndpoints;
    if (internalPolicyLocal) {
      internalPolicyChain = localPolicyChain;
      if (cat.local.length === 0) hasInternalEndpoints = false;
    }
    const internalTrafficChain = internalPolicyChain;

    let externalPolicyChain = clusterPolicyChain;
    let hasExternalEndpoints = hasEndpoints;
    if (externalPolicyLocal) {
      externalPolicyChain = localPolicyChain;
      if (cat.local.length === 0) hasExternalEndpoints = false;
    }
    const externalTrafficChain = p.chains.ext;
    const usesExternalTrafficChain = hasEndpoints && externallyAccessible;

    let loadBalancerTrafficChain = externalTrafficChain;
    const fwChain = p.chains.fw;
    const usesFWChain = hasEndpoints && p.lbIPs.length > 0 && p.sourceRanges.length > 0;
    if (usesFWChain) loadBalancerTrafficChain = fwChain;

    let internalFilterTarget = '';
    let internalFilterComment = '';
    let externalFilterTarget = '';
    let externalFilterComment = '';
    if (!hasEndpoints) {
      internalFilterTarget = 'REJECT';
      internalFilterComment = q(`${spn} has no endpoints`);
      externalFilterTarget = 'REJECT';
      externalFilterComment = internalFilterComment;
    } else {
      if (!hasInternalEndpoints) {
        internalFilterTarget = 'DROP';
        internalFilterComment = q(`${spn} has no local endpoints`);
      }
      if (!hasExternalEndpoints) {
        externalFilterTarget = 'DROP';
        externalFilterComment = q(`${spn} has no local endpoints`);
      }
    }

    // Capture the clusterIP.
    if (hasInternalEndpoints) {
      b.natRules.push(
        line(
          '-A', KUBE_SERVICES,
          '-m', 'comment', '--comment', q(`${spn} cluster IP`),
          '-m', proto, '-p', proto, '-d', clusterIP, '--dport', port,
          '-j', internalTrafficChain,
        ),
      );
    } else {
      b.filterRules.push(
        line(
          '-A', KUBE_SERVICES,
          '-m', 'comment', '--comment', internalFilterComment,
          '-m', proto, '-p', proto, '-d', clusterIP, '--dport', port,
          '-j', internalFilterTarget,
        ),
      );
    }

    // Capture externalIPs.
    for (const eip of p.externalIPs) {
      if (hasEndpoints) {
        b.natRules.push(
          line(
            '-A', KUBE_SERVICES,
            '-m', 'comment', '--comment', q(`${spn} external IP`),
            '-m', proto, '-p', proto, '-d', eip, '--dport', port,
            '-j', externalTrafficChain,
          ),
        );
      }
      if (!hasExternalEndpoints) {
        b.filterRules.push(
          line(
            '-A', KUBE_EXTERNAL_SERVICES,
            '-m', 'comment', '--comment', externalFilterComment,
            '-m', proto, '-p', proto, '-d', eip, '--dport', port,
            '-j', externalFilterTarget,
          ),
        );
      }
    }

    // Capture load-balancer ingress.
    for (const lbip of p.lbIPs) {
      if (hasEndpoints) {
        b.natRules.push(
          line(
            '-A', KUBE_SERVICES,
            '-m', 'comment', '--comment', q(`${spn} loadbalancer IP`),
            '-m', proto, '-p', proto, '-d', lbip, '--dport', port,
            '-j', loadBalancerTrafficChain,
          ),
        );
      }
      if (usesFWChain) {
        b.filterRules.push(
          line(
            '-A', KUBE_PROXY_FIREWALL,
            '-m', 'comment', '--comment', q(`${spn} traffic not accepted by ${fwChain}`),
            '-m', proto, '-p', proto, '-d', lbip, '--dport', port,
            '-j', 'DROP',
          ),
        );
      }
    }
    if (!hasExternalEndpoints) {
      for (const lbip of p.lbIPs) {
        b.filterRules.push(
          line(
            '-A', KUBE_EXTERNAL_SERVICES,
            '-m', 'comment', '--comment', externalFilterComment,
            '-m', proto, '-p', proto, '-d', lbip, '--dport', port,
            '-j', externalFilterTarget,
          ),
        );
      }
    }

    // Capture nodeports.
    if (p.nodePort !== 0) {
      if (hasEndpoints && o.nfacct.localhostNodePorts && (o.nodePortAddresses.length === 0 || o.nodePortAddresses.some(isLoopback))) {
        // ≥ 1.31: count NodePort connections on localhost (release.ts).
        b.natRules.push(
          line(
            '-A', KUBE_NODEPORTS,
            '-m', 'comment', '--comment', spn,
            '-m', proto, '-p', proto, '-d', '127.0.0.0/8', '--dport', String(p.nodePort),
            '-m', 'nfacct', '--nfacct-name', NFACCT_LOCALHOST_NODEPORTS,
            '-j', externalTrafficChain,
          ),
        );
      }
      if (hasEndpoints) {
        b.natRules.push(
          line(
            '-A', KUBE_NODEPORTS,
            '-m', 'comment', '--comment', spn,
            '-m', proto, '-p', proto, '--dport', String(p.nodePort),
            '-j', externalTrafficChain,
          ),
        );
      }
      if (!hasExternalEndpoints) {
        b.filterRules.push(
          line(
            '-A', KUBE_EXTERNAL_SERVICES,
            '-m', 'comment', '--comment', externalFilterComment,
            '-m', 'addrtype', '--dst-type', 'LOCAL',
            '-m', proto, '-p', proto, '--dport', String(p.nodePort),
            '-j', externalFilterTarget,
          ),
        );
      }
    }

    // Capture healthCheckNodePorts (only LoadBalancer + Local has one: apiservice.NeedsHealthCheck).
    const hcnp = p.svc.healthCheckNodePort ?? 0;
    if (hcnp !== 0 && p.type === 'LoadBalancer' && externalPolicyLocal) {
      b.filterRules.push(
        line(
          '-A', KUBE_NODEPORTS,
          '-m', 'comment', '--comment', q(`${spn} health check node port`),
          '-m', 'tcp', '-p', 'tcp', '--dport', String(hcnp),
          '-j', 'ACCEPT',
        ),
      );
    }

    // Internal traffic handling: masquerade off-cluster traffic to the cluster IP.
    if (hasInternalEndpoints) {
      const args: Part[] = [
        '-m', 'comment', '--comment', q(`${spn} cluster IP`),
        '-m', proto, '-p', proto, '-d', clusterIP, '--dport', port,
      ];
      if (o.masqueradeAll) {
        b.natRules.push(line('-A', internalTrafficChain, ...args, '-j', KUBE_MARK_MASQ));
      } else if (o.clusterCIDR) {
        b.natRules.push(line('-A', internalTrafficChain, ...args, '!', '-s', o.clusterCIDR, '-j', KUBE_MARK_MASQ));
      }
    }

    const declared: string[] = [];
    // External traffic handling.
    if (usesExternalTrafficChain) {
      declareNat(b, active, declared, externalTrafficChain);
      if (!externalPolicyLocal) {
        b.natRules.push(
          line(
            '-A', externalTrafficChain,
            '-m', 'comment', '--comment', q(`masquerade traffic for ${spn} external destinations`),
            '-j', KUBE_MARK_MASQ,
          ),
        );
      } else {
        if (o.clusterCIDR) {
          b.natRules.push(
            line(
              '-A', externalTrafficChain,
              '-m', 'comment', '--comment', q(`pod traffic for ${spn} external destinations`),
              '-s', o.clusterCIDR,
              '-j', clusterPolicyChain,
            ),
          );
        }
        b.natRules.push(
          line(
            '-A', externalTrafficChain,
            '-m', 'comment', '--comment', q(`masquerade LOCAL traffic for ${spn} external destinations`),
            '-m', 'addrtype', '--src-type', 'LOCAL',
            '-j', KUBE_MARK_MASQ,
          ),
        );
        b.natRules.push(
          line(
            '-A', externalTrafficChain,
            '-m', 'comment', '--comment', q(`route LOCAL traffic for ${spn} external destinations`),
            '-m', 'addrtype', '--src-type', 'LOCAL',
            '-j', clusterPolicyChain,
          ),
        );
      }
      if (hasExternalEndpoints) b.natRules.push(line('-A', externalTrafficChain, '-j', externalPolicyChain));
    }

    // Firewall chain for loadBalancerSourceRanges.
    if (usesFWChain) {
      declareNat(b, active, declared, fwChain);
      const args: Part[] = ['-A', fwChain, '-m', 'comment', '--comment', q(`${spn} loadbalancer IP`)];
      for (const cidr of p.sourceRanges) b.natRules.push(line(...args, '-s', cidr, '-j', externalTrafficChain));
      if (rangesHoldNode(o, p.sourceRanges)) {
        for (const lbip of p.lbIPs) b.natRules.push(line(...args, '-s', lbip, '-j', externalTrafficChain));
      }
      b.natRules.push(
        line('-A', fwChain, '-m', 'comment', '--comment', q(`other traffic to ${spn} will be dropped by KUBE-PROXY-FIREWALL`)),
      );
    }

    const lbComment = (ep: EpInfo): string => q(`${spn} -> ${ep.str}`);
    if (usesClusterPolicyChain) {
      declareNat(b, active, declared, clusterPolicyChain);
      writeLbRules(b, o, p, clusterPolicyChain, cat.cluster, lbComment);
    }
    if (usesLocalPolicyChain) {
      declareNat(b, active, declared, localPolicyChain);
      writeLbRules(b, o, p, localPolicyChain, cat.local, lbComment);
    }

    // Per-endpoint chains.
    for (const ep of cat.all) {
      declareNat(b, active, declared, ep.chain);
      writeEndpointChain(b, o, p, ep);
    }

    p.report.declaredChains = declared;
    p.report.hasEndpoints = hasEndpoints;
    p.report.clusterEndpoints = usesClusterPolicyChain ? endpointRules(cat.cluster) : [];
    p.report.localEndpoints = usesLocalPolicyChain ? endpointRules(cat.local) : [];
  }

  writeStaleChainDeletes(b, o, active);

  // Finally, tail-call to the nodePorts chain.
  writeNodePortsTail(b, o, true);

  writeKubeForward(b, o, !o.conntrackTCPLiberal);
  return active;
}
