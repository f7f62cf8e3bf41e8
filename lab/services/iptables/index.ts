export {
  base32StdEncode,
  endpointChainName,
  isServiceChainName,
  joinHostPort,
  portProtoHash,
  protoLower,
  SERVICE_CHAIN_PREFIXES,
  servicePortChainName,
  servicePortName,
} from './hash.ts';
export type { ServiceChainPrefix } from './hash.ts';
export {
  computeProbability,
  effectiveShares,
  endpointProbability,
  endpointProbabilityReadBack,
  formatFixed,
  predictReadBack,
  probabilityToU32,
  u32ToReadBack,
} from './probability.ts';
export { buildIptablesRestore, buildKubeProxyIptables } from './proxier.ts';
export { jumpSequence } from './jumps.ts';
export { formatMark, masqueradeMarkForBit } from './marks.ts';
export {
  KUBE_EXTERNAL_SERVICES,
  KUBE_FIREWALL,
  KUBE_FORWARD,
  KUBE_MARK_DROP,
  KUBE_MARK_MASQ,
  KUBE_NODEPORTS,
  KUBE_POSTROUTING,
  KUBE_PROXY_CANARY,
  KUBE_PROXY_FIREWALL,
  KUBE_SERVICES,
  NODEPORTS_COMMENT,
} from './writers.ts';
export { DEFAULT_KUBE_PROXY_VERSION, isKubeProxyVersion, releaseFeatures } from './release.ts';
export type { ReleaseFeatures } from './release.ts';
export type {
  EndpointRule,
  IptablesFlavor,
  JumpMode,
  KubeProxyEndpoint,
  KubeProxyIptablesInput,
  KubeProxyIptablesResult,
  KubeProxyProtocol,
  KubeProxyService,
  KubeProxyServicePort,
  KubeProxySessionAffinity,
  ServicePortChains,
  ServiceType,
  TrafficPolicy,
} from './types.ts';
