// Calico's BGP control plane, one module per seam: types, BIRD syntax and naming, the node and
// router renderers, and the birdc parsers.
export * from './types.ts';
export { birdSymbol, calicoGlobalPeerName, calicoMeshPeerName, calicoNodePeerName, calicoPeerId, routerPeerName } from './syntax.ts';
export { birdConfigForNode } from './node-config.ts';
export { birdArgv, birdcArgv, birdConfigForRouter } from './router-config.ts';
export * from './birdc.ts';
export { assertCidr, ipInCidr } from '../../../net.ts';
