// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * datapath-lab: tc eBPF service load balancer for the Terway IPVLAN + eBPF
 * family (Cilium's per-packet "from-container" service translation, reduced to
 * what a ClusterIP needs).
 *
 * Attach both programs with tc clsact on the pod's eth0, inside the pod netns:
 *   egress  -> from_container: service VIP:port -> backend IP:port (DNAT), one
 *              backend per connection (5-tuple affinity in lb4_ct)
 *   ingress -> to_container:   reply backend IP:port -> VIP:port (reverse NAT)
 * so the client socket only ever sees the service address, and no packet with
 * the service address ever leaves the pod. Traffic to unknown addresses passes
 * untouched (TC_ACT_OK, bytes unchanged). A service whose frontend has 0
 * backends drops (Cilium: DROP_NO_SERVICE).
 *
 * Portability: UAPI headers only (no vmlinux.h / CO-RE: the UML kernel has no
 * kernel BTF), every helper function is __always_inline (no bpf-to-bpf calls),
 * no tail calls, no kfuncs, no callbacks, no bpf_printk: loads on the UML 6.1
 * interpreter and on JIT kernels >= 5.10.
 *
 * Build: clang -O2 -g -target bpf -I/usr/include/$(gcc -print-multiarch) -c lb4.c
 * (scripts/build-bpf.sh). -DLB4_NO_PSEUDO_HDR builds a deliberately broken
 * variant (no BPF_F_PSEUDO_HDR) for negative controls only.
 */
#include <stddef.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "lb4.h"

/* Lab-sized tables (Cilium's default is 65536 entries). They are
 * preallocated: on Linux 6.1 (UML) a BPF_F_NO_PREALLOC hash map allocates from
 * bpf_mem_alloc's per-CPU cache, which starts with 4 elements and is refilled
 * from irq_work, so a burst of `bpftool map update`s (one `bpftool batch`)
 * fails with ENOMEM after the 4th new element. Preallocated, a pod's four maps
 * cost about 2 MB of kernel memory. */
#ifndef LB4_MAX_SERVICES
#define LB4_MAX_SERVICES 4096
#endif
#ifndef LB4_MAX_BACKENDS
#define LB4_MAX_BACKENDS 4096
#endif
#ifndef LB4_MAX_REVNAT
#define LB4_MAX_REVNAT 4096
#endif
#ifndef LB4_MAX_CT
#define LB4_MAX_CT 8192
#endif
#ifndef LB4_MAX_LOCAL_EP
#define LB4_MAX_LOCAL_EP 256
#endif

#ifdef LB4_NO_PSEUDO_HDR
#define LB4_PSEUDO 0 /* negative control: wrong on CHECKSUM_PARTIAL skbs */
#else
#define LB4_PSEUDO BPF_F_PSEUDO_HDR
#endif

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct lb4_key);
	__type(value, struct lb4_service);
	__uint(max_entries, LB4_MAX_SERVICES);
} lb4_services_v2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct lb4_backend);
	__uint(max_entries, LB4_MAX_BACKENDS);
} lb4_backends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u16);
	__type(value, struct lb4_reverse_nat);
	__uint(max_entries, LB4_MAX_REVNAT);
} lb4_reverse_nat SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct ct4_key);
	__type(value, struct ct4_entry);
	__uint(max_entries, LB4_MAX_CT);
} lb4_ct SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __be32);
	__type(value, struct lb4_local_ep);
	__uint(max_entries, LB4_MAX_LOCAL_EP);
} lb4_local_ep SEC(".maps");

#define IP_CSUM_OFF (ETH_HLEN + offsetof(struct iphdr, check))
#define IP_SRC_OFF  (ETH_HLEN + offsetof(struct iphdr, saddr))
#define IP_DST_OFF  (ETH_HLEN + offsetof(struct iphdr, daddr))
#define L4_SPORT_OFF 0 /* same offsets for TCP and UDP */
#define L4_DPORT_OFF 2
#define IP_MF     0x2000
#define IP_OFFSET 0x1fff

struct pkt4 {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u32 l4_off;
	__u32 csum_off;
	__u64 l4_flags; /* BPF_F_MARK_MANGLED_0 for UDP */
	__u8 proto;
};

/* Parse Ethernet/IPv4/TCP|UDP. Returns 0 for a translatable packet. Uses
 * bpf_skb_load_bytes (works on non-linear skbs, no packet-pointer
 * invalidation issues after the rewrite helpers). */
static __always_inline int parse4(struct __sk_buff *skb, struct pkt4 *p)
{
	struct iphdr ip;
	__be16 ports[2];

	if (skb->protocol != bpf_htons(ETH_P_IP))
		return -1;
	if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)) < 0)
		return -1;
	if (ip.version != 4 || ip.ihl < 5)
		return -1;
	/* Fragments are not translated (no fragment map, see README). */
	if (ip.frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return -1;
	if (ip.protocol == IPPROTO_TCP) {
		p->csum_off = offsetof(struct tcphdr, check);
		p->l4_flags = 0;
	} else if (ip.protocol == IPPROTO_UDP) {
		p->csum_off = offsetof(struct udphdr, check);
		p->l4_flags = BPF_F_MARK_MANGLED_0;
	} else {
		return -1;
	}
	p->l4_off = ETH_HLEN + ((__u32)ip.ihl << 2);
	if (bpf_skb_load_bytes(skb, p->l4_off, ports, sizeof(ports)) < 0)
		return -1;
	p->csum_off += p->l4_off;
	p->saddr = ip.saddr;
	p->daddr = ip.daddr;
	p->sport = ports[0];
	p->dport = ports[1];
	p->proto = ip.protocol;
	return 0;
}

/* Rewrite an IPv4 address: IP header checksum and the L4 checksum, whose
 * pseudo-header covers the addresses (BPF_F_PSEUDO_HDR: on CHECKSUM_PARTIAL
 * skbs - every locally generated TCP/UDP packet on veth/ipvlan - the L4 field
 * holds only the pseudo-header sum and must still be updated). */
static __always_inline int rewrite_addr(struct __sk_buff *skb, const struct pkt4 *p,
					__u32 off, __be32 old, __be32 new)
{
	if (bpf_skb_store_bytes(skb, off, &new, sizeof(new), 0) < 0)
		return -1;
	if (bpf_l3_csum_replace(skb, IP_CSUM_OFF, old, new, sizeof(new)) < 0)
		return -1;
	if (bpf_l4_csum_replace(skb, p->csum_off, old, new,
				LB4_PSEUDO | p->l4_flags | sizeof(new)) < 0)
		return -1;
	return 0;
}

/* Rewrite a port: L4 checksum only, no pseudo-header flag. */
static __always_inline int rewrite_port(struct __sk_buff *skb, const struct pkt4 *p,
					__u32 off, __be16 old, __be16 new)
{
	if (bpf_skb_store_bytes(skb, off, &new, sizeof(new), 0) < 0)
		return -1;
	if (bpf_l4_csum_replace(skb, p->csum_off, old, new, p->l4_flags | sizeof(new)) < 0)
		return -1;
	return 0;
}

static __always_inline struct lb4_service *lookup_service(struct lb4_key *key)
{
	struct lb4_service *svc;

	/* Exact protocol first, then "any protocol" (Cilium v1.14 writes 0). */
	svc = bpf_map_lookup_elem(&lb4_services_v2, key);
	if (!svc && key->proto) {
		key->proto = 0;
		svc = bpf_map_lookup_elem(&lb4_services_v2, key);
	}
	return svc;
}

SEC("tc")
int from_container(struct __sk_buff *skb)
{
	struct lb4_key key = {};
	struct ct4_key ck = {};
	struct ct4_entry ne = {};
	struct ct4_entry *ce;
	struct lb4_service *svc, *slot_svc;
	struct lb4_backend *be = NULL;
	struct lb4_local_ep *lep;
	struct pkt4 p = {};
	__u32 backend_id = 0;
	__be32 be_addr;
	__be16 be_port;
	__u16 count, rev_nat, slot;
	__u64 now;

	if (parse4(skb, &p) < 0)
		return TC_ACT_OK;

	key.address = p.daddr;
	key.dport = p.dport;
	key.proto = p.proto;
	svc = lookup_service(&key);
	if (!svc) {
		/* Not a service. If a stale post-DNAT CT entry matches this exact
		 * tuple (e.g. a source port reused for a direct connection to a
		 * former backend), forget it so its replies are not rewritten. */
		ck.daddr = p.daddr;
		ck.saddr = p.saddr;
		ck.dport = p.dport;
		ck.sport = p.sport;
		ck.nexthdr = p.proto;
		ck.flags = CT_EGRESS;
		if (bpf_map_lookup_elem(&lb4_ct, &ck))
			bpf_map_delete_elem(&lb4_ct, &ck);
		return TC_ACT_OK;
	}
	count = svc->count;
	rev_nat = svc->rev_nat_index;
	if (count == 0)
		return TC_ACT_SHOT; /* frontend without backends */

	now = bpf_ktime_get_ns();

	/* Connection affinity: the pre-DNAT tuple remembers its backend. */
	ck.daddr = p.daddr;
	ck.saddr = p.saddr;
	ck.dport = p.dport;
	ck.sport = p.sport;
	ck.nexthdr = p.proto;
	ck.flags = CT_SERVICE;
	ce = bpf_map_lookup_elem(&lb4_ct, &ck);
	if (ce && ce->rev_nat_index == rev_nat) {
		backend_id = ce->backend_id;
		be = bpf_map_lookup_elem(&lb4_backends, &backend_id);
		if (be) {
			__sync_fetch_and_add(&ce->packets, 1);
			ce->last_seen_ns = now;
		}
	}
	if (!be) {
		/* New connection (or stale entry): Cilium's LB_SELECTION_RANDOM. */
		slot = (bpf_get_prandom_u32() % count) + 1;
		key.backend_slot = slot;
		slot_svc = bpf_map_lookup_elem(&lb4_services_v2, &key);
		if (!slot_svc)
			return TC_ACT_SHOT;
		backend_id = slot_svc->backend_id;
		be = bpf_map_lookup_elem(&lb4_backends, &backend_id);
		if (!be)
			return TC_ACT_SHOT;
		ne.packets = 1;
		ne.last_seen_ns = now;
		ne.backend_id = backend_id;
		ne.rev_nat_index = rev_nat;
		/* Fail closed: without the entry the connection has no affinity. */
		if (bpf_map_update_elem(&lb4_ct, &ck, &ne, BPF_ANY) < 0)
			return TC_ACT_SHOT;
	}
	be_addr = be->address;
	be_port = be->port;

	/* Post-DNAT tuple -> rev_nat_index, for the reply on tc ingress. */
	ck.daddr = be_addr;
	ck.dport = be_port;
	ck.flags = CT_EGRESS;
	ce = bpf_map_lookup_elem(&lb4_ct, &ck);
	if (ce && ce->rev_nat_index == rev_nat) {
		__sync_fetch_and_add(&ce->packets, 1);
		ce->last_seen_ns = now;
	} else {
		ne.packets = 1;
		ne.last_seen_ns = now;
		ne.backend_id = backend_id;
		ne.rev_nat_index = rev_nat;
		if (bpf_map_update_elem(&lb4_ct, &ck, &ne, BPF_ANY) < 0)
			return TC_ACT_SHOT;
	}

	if (be_addr != p.daddr &&
	    rewrite_addr(skb, &p, IP_DST_OFF, p.daddr, be_addr) < 0)
		return TC_ACT_SHOT;
	if (be_port != p.dport &&
	    rewrite_port(skb, &p, p.l4_off + L4_DPORT_OFF, p.dport, be_port) < 0)
		return TC_ACT_SHOT;
	/* Local delivery to a backend behind the pod's own ipvlan parent
	 * (lb4.h: struct lb4_local_ep). */
	lep = bpf_map_lookup_elem(&lb4_local_ep, &be_addr);
	if (lep && bpf_skb_store_bytes(skb, 0, lep->mac, ETH_ALEN, 0) < 0)
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}

SEC("tc")
int to_container(struct __sk_buff *skb)
{
	struct lb4_reverse_nat *rn;
	struct ct4_entry *ce;
	struct ct4_key ck = {};
	struct pkt4 p = {};
	__be32 vip;
	__be16 vport;
	__u16 rev_nat;

	if (parse4(skb, &p) < 0)
		return TC_ACT_OK;

	/* The reply's tuple, turned around, is the post-DNAT request tuple. */
	ck.daddr = p.saddr;
	ck.saddr = p.daddr;
	ck.dport = p.sport;
	ck.sport = p.dport;
	ck.nexthdr = p.proto;
	ck.flags = CT_EGRESS;
	ce = bpf_map_lookup_elem(&lb4_ct, &ck);
	if (!ce)
		return TC_ACT_OK;
	rev_nat = ce->rev_nat_index;
	ce->last_seen_ns = bpf_ktime_get_ns();
	rn = bpf_map_lookup_elem(&lb4_reverse_nat, &rev_nat);
	if (!rn)
		return TC_ACT_OK;
	vip = rn->address;
	vport = rn->port;

	if (vport != p.sport &&
	    rewrite_port(skb, &p, p.l4_off + L4_SPORT_OFF, p.sport, vport) < 0)
		return TC_ACT_SHOT;
	if (vip != p.saddr &&
	    rewrite_addr(skb, &p, IP_SRC_OFF, p.saddr, vip) < 0)
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}

char _license[] SEC("license") = "Dual BSD/GPL";
