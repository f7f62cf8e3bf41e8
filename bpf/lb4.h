/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * datapath-lab: map layouts of the tc eBPF service load balancer (lb4.c).
 *
 * The service, backend and reverse-NAT maps mirror Cilium v1.14's lb4 maps
 * (cilium/cilium bpf/lib/common.h: struct lb4_key, lb4_service, lb4_backend,
 * lb4_reverse_nat). Map names are shortened to <= 15 characters because the
 * kernel truncates object names at BPF_OBJ_NAME_LEN (16 incl. NUL).
 *
 * Byte order: addresses and ports are network order ("__be"); slots, ids,
 * counts and rev-NAT indexes are host order (little-endian on x86_64 / UML).
 * The TypeScript encoder in lab/services/ebpf/maps.ts must match this file.
 */
#ifndef DLT_LB4_H
#define DLT_LB4_H

#include <linux/types.h>

/* lb4_services_v2: key (12 bytes) */
struct lb4_key {
	__be32 address;      /* service VIP */
	__be16 dport;        /* service port */
	__u16 backend_slot;  /* 0 = frontend ("master") entry, 1..count = backend slots */
	__u8 proto;          /* IPPROTO_TCP/UDP; 0 = any protocol (Cilium v1.14 writes 0) */
	__u8 scope;          /* LB_LOOKUP_SCOPE_EXT (0) / _INT (1); the lab uses 0 */
	__u8 pad[2];
};

/* lb4_services_v2: value (12 bytes) */
struct lb4_service {
	__u32 backend_id;    /* slot > 0: backend id (key of lb4_backends) */
	__u16 count;         /* slot 0: number of backend slots */
	__u16 rev_nat_index; /* service id, key of lb4_reverse_nat */
	__u8 flags;          /* SVC_FLAG_* (ClusterIP = 0; bit 6 = routable) */
	__u8 flags2;
	__u8 pad[2];
};

/* lb4_backends: key __u32 backend_id, value (12 bytes) */
struct lb4_backend {
	__be32 address;
	__be16 port;
	__u8 proto;          /* informational (printed by `lb list`) */
	__u8 flags;          /* BE_STATE_ACTIVE = 0 */
	__u8 cluster_id;
	__u8 pad[3];
};

/* lb4_reverse_nat: key __u16 rev_nat_index, value (6 bytes, packed) */
struct lb4_reverse_nat {
	__be32 address;
	__be16 port;
} __attribute__((packed));

/*
 * lb4_ct (LRU hash): per-pod connection tracking. Field order follows
 * Cilium's struct ipv4_ct_tuple (daddr, saddr, dport, sport, nexthdr,
 * flags), padded to 16 bytes so that hash keys compare bytewise.
 *
 *  - CT_SERVICE entry: the pre-DNAT tuple (client -> VIP:port) -> backend_id.
 *    Gives connection affinity: every packet of a connection gets the same
 *    backend.
 *  - CT_EGRESS entry: the post-DNAT tuple (client -> backend:port) ->
 *    rev_nat_index. The ingress program finds it from a reply and restores
 *    the service address as the reply's source.
 */
#define CT_EGRESS  0
#define CT_SERVICE 4   /* Cilium TUPLE_F_SERVICE */

struct ct4_key {
	__be32 daddr;
	__be32 saddr;
	__be16 dport;
	__be16 sport;
	__u8 nexthdr;
	__u8 flags;
	__u8 pad[2];
};

struct ct4_entry {
	__u64 packets;
	__u64 last_seen_ns;  /* bpf_ktime_get_ns() */
	__u32 backend_id;    /* CT_SERVICE entries */
	__u16 rev_nat_index;
	__u16 pad;
};

/*
 * lb4_local_ep (per pod, optional): backends the pod reaches through its own
 * ipvlan parent ENI -> the destination MAC its translated frames must carry
 * (key __be32 backend address, value 8 bytes). Cilium's local delivery
 * (bpf_lxc ipv4_local_delivery) rewrites the frame's destination MAC to the
 * local endpoint's MAC; under Terway's ipvlan chaining that MAC is the ENI's,
 * which every slave of the ENI shares (terway cilium patch 0008 "support
 * hairpin with ipvlan"), so ipvlan switches the frame straight to the
 * backend's slave instead of sending it to the vSwitch gateway. Backends
 * behind another ENI or node are not listed: their frames keep the gateway's
 * MAC and cross the VPC. An empty map changes nothing.
 */
struct lb4_local_ep {
	__u8 mac[6];
	__u8 pad[2];
};

#endif /* DLT_LB4_H */
