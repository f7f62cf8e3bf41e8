/**
 * Control plane of the tc eBPF service load balancer (bpf/lb4.c): pure functions that turn a service
 * table into bpftool map-update argument vectors, parse `bpftool -j map dump` output back, and print
 * the table like `cilium bpf lb list`. One entry point over the modules in ./maps/:
 *   layout.ts   map layouts, names, sizes, flag bits, scalar encoders
 *   codec.ts    the entries of each map and their byte encodings
 *   bpftool.ts  argv vectors, batch files, dump parsing
 *   table.ts    service table ↔ map entries (ordered, consistent writes)
 *   print.ts    `cilium bpf lb list` / `ct list` text
 */
export * from './maps/layout.ts';
export * from './maps/codec.ts';
export * from './maps/bpftool.ts';
export * from './maps/table.ts';
export * from './maps/print.ts';
