/*
 * dlipset: creates and fills the ipsets of many lab namespaces from one process, speaking the
 * kernel's ipset nfnetlink subsystem itself — where one `ipset restore` per namespace costs 50-60 ms
 * of process start inside User-Mode Linux. The sibling of dlipvs (dlipvs.c: the same arguments,
 * checks, status lines and exit codes: nlapply.c); the agent (lab/runners/agent/build.sh, dlipvs_group)
 * hands it each run of consecutive ipset steps; without it (or with DL_DLIPSET=off), one
 * `ipset restore` per step.
 *
 * usage: dlipset LAB NSPATH FILE [NSPATH FILE ...] — the arguments, the checks before anything is
 * sent (exit 2), the status lines and the stop at the first request the kernel refuses (exit 1,
 * FILE:LINE) are nlapply.c's, shared with dlipvs.
 *
 * The grammar is exactly the `ipset restore` lines the lab's compiler writes (ipsetRestore in
 * lab/services/ipvs/sets.ts: kube-proxy's sets), IPv4 only, words separated by one space:
 *   create NAME TYPE family inet hashsize N maxelem N   TYPE hash:ip | hash:ip,port |
 *                                                        hash:ip,port,ip | hash:ip,port,net
 *   create NAME bitmap:port range FROM-TO
 *   add NAME ENTRY     by NAME's type (created earlier in the file): A | A,PROTO:PORT |
 *                      A,PROTO:PORT,B | A,PROTO:PORT,B[/P] | PORT;  PROTO tcp, udp or sctp
 * Each line becomes the request ipset 7 sends for it (lib/session.c and the types' option lists in
 * lib/ipset_*.c, https://git.netfilter.org/ipset/tree/lib): IPSET_CMD_CREATE with the protocol
 * version, name, type, the type's revision (the highest the kernel has, asked with IPSET_CMD_TYPE
 * as ipset asks), family and the create options; IPSET_CMD_ADD with the entry's attributes; both
 * NLM_F_EXCL (restore without -exist). Numbers and addresses in network order with
 * NLA_F_NET_BYTEORDER and nested attributes with NLA_F_NESTED, as the kernel demands
 * (net/netfilter/ipset/ip_set_core.c, ip_set_hash_ipport.c …,
 * https://elixir.bootlin.com/linux/v6.6/source/net/netfilter/ipset/ip_set_core.c; the attributes:
 * include/uapi/linux/netfilter/ipset/ip_set.h). test/kernel/dlipset.test.ts compares `ipset save`
 * and `ipset list` of sets made both ways for every catalogue ipset file.
 */
#define _GNU_SOURCE
#include "nlapply.h"
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/ipset/ip_set.h>
#include <linux/netfilter/nfnetlink.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#ifndef IPPROTO_SCTP
#define IPPROTO_SCTP 132
#endif
enum kind { HASH_IP, HASH_IPPORT, HASH_IPPORTIP, HASH_IPPORTNET, BITMAP_PORT };
static const char *const TYPES[] = { "hash:ip", "hash:ip,port", "hash:ip,port,ip", "hash:ip,port,net", "bitmap:port" };

/* One line: a set created, or an entry added. */
struct op {
	int add, kind, cidr2;
	char name[IPSET_MAXNAMELEN];
	uint32_t hashsize, maxelem, ip, ip2; /* addresses in network order */
	uint16_t port, port_to;              /* host order */
	uint8_t proto;
};

static int revision[5]; /* the kernel's highest revision of each type + 1, asked once (0: not yet) */

/* --- the grammar -------------------------------------------------------------------------- */

static int ipv4(const char *s, uint32_t *a)
{
	return inet_pton(AF_INET, s, a) == 1 ? 0 : fail("invalid IPv4 address \"%s\"", s);
}
/* PROTO:PORT */
static int protoport(char *s, struct op *o)
{
	uint32_t p;
	char *colon = strchr(s, ':');
	if (!colon) return fail("\"%s\" is not PROTO:PORT", s);
	*colon = 0;
	if (!strcmp(s, "tcp")) o->proto = IPPROTO_TCP;
	else if (!strcmp(s, "udp")) o->proto = IPPROTO_UDP;
	else if (!strcmp(s, "sctp")) o->proto = IPPROTO_SCTP;
	else return fail("unsupported protocol \"%s\" (tcp, udp or sctp)", s);
	if (num(colon + 1, 0, 65535, &p) < 0) return -1;
	o->port = p;
	return 0;
}

/* The entry of an add line, by its set's type. */
static int entry(char *e, struct op *o)
{
	char *part[3] = { e, NULL, NULL };
	int n = 1;
	for (char *c = strchr(e, ','); c && n < 3; c = strchr(c + 1, ',')) { *c = 0; part[n++] = c + 1; }
	int want[] = { [HASH_IP] = 1, [HASH_IPPORT] = 2, [HASH_IPPORTIP] = 3, [HASH_IPPORTNET] = 3, [BITMAP_PORT] = 1 };
	if (n != want[o->kind] || strchr(part[n - 1], ',')) return fail("entry does not fit %s", TYPES[o->kind]);
	if (o->kind == BITMAP_PORT) {
		uint32_t p;
		if (num(e, 0, 65535, &p) < 0) return -1;
		o->port = p;
		return 0;
	}
	if (ipv4(part[0], &o->ip) < 0) return -1;
	if (n >= 2 && protoport(part[1], o) < 0) return -1;
	if (n == 3) {
		char *slash = strchr(part[2], '/');
		if (slash) {
			uint32_t c;
			*slash = 0;
			if (o->kind != HASH_IPPORTNET) return fail("%s takes an address, not a network, third", TYPES[o->kind]);
			if (num(slash + 1, 1, 32, &c) < 0) return -1;
			o->cidr2 = c;
		}
		if (ipv4(part[2], &o->ip2) < 0) return -1;
	}
	return 0;
}

/* Parses one line into *o, given the sets created so far in the file: 1, 0 for an empty line, -1. */
static int parse_line(char *line, void *op, const void *prior, int n_ops)
{
	struct op *o = op;
	const struct op *ops = prior;
	char *w[12];
	int n = 0;
	if (strpbrk(line, "\t\"'\\#")) return fail("tabs, quotes, backslashes and comments are not in the grammar");
	for (char *t = strtok(line, " "); t; t = strtok(NULL, " "))
		if (n < 12) w[n++] = t;
		else return fail("too many words");
	if (!n) return 0;
	memset(o, 0, sizeof *o);
	if (strcmp(w[0], "create") && strcmp(w[0], "add")) return fail("unsupported: \"%s\" (expected create or add)", w[0]);
	if (n < 3) return fail("expected create NAME TYPE … or add NAME ENTRY");
	size_t len = strlen(w[1]);
	if (len >= IPSET_MAXNAMELEN || strspn(w[1], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != len)
		return fail("invalid set name \"%s\"", w[1]);
	memcpy(o->name, w[1], len + 1);
	if (!strcmp(w[0], "create")) {
		for (o->kind = 0; o->kind < 5 && strcmp(w[2], TYPES[o->kind]); o->kind++) {}
		if (o->kind == 5) return fail("unsupported set type \"%s\"", w[2]);
		if (o->kind == BITMAP_PORT) {
			uint32_t a, b;
			char *dash = n == 5 ? strchr(w[4], '-') : NULL;
			if (n != 5 || strcmp(w[3], "range") || !dash) return fail("expected create NAME bitmap:port range FROM-TO");
			*dash = 0;
			if (num(w[4], 0, 65535, &a) < 0 || num(dash + 1, a, 65535, &b) < 0) return -1;
			o->port = a;
			o->port_to = b;
			return 1;
		}
		if (n != 9 || strcmp(w[3], "family") || strcmp(w[4], "inet") || strcmp(w[5], "hashsize") || strcmp(w[7], "maxelem"))
			return fail("expected create NAME %s family inet hashsize N maxelem N", w[2]);
		return num(w[6], 1, UINT32_MAX, &o->hashsize) < 0 || num(w[8], 1, UINT32_MAX, &o->maxelem) < 0 ? -1 : 1;
	}
	if (!strcmp(w[0], "add")) {
		if (n != 3) return fail("expected add NAME ENTRY");
		o->add = 1;
		o->kind = -1;
		for (int i = 0; i < n_ops; i++)
			if (!ops[i].add && !strcmp(ops[i].name, o->name)) o->kind = ops[i].kind;
		if (o->kind < 0) return fail("set \"%s\" is not created earlier in this file", o->name);
		return entry(w[2], o) < 0 ? -1 : 1;
	}
	return fail("unsupported: \"%s\" (expected create or add)", w[0]);
}

/* --- nfnetlink ---------------------------------------------------------------------------- */

/* A request of the ipset subsystem (nfgenmsg: AF_INET, version 0, as ipset's lib/mnl.c sends it). */
static struct nlmsghdr *request(struct req *r, int cmd, int flags)
{
	struct nfgenmsg g = { .nfgen_family = AF_INET, .version = NFNETLINK_V0 };
	return start(r, (NFNL_SUBSYS_IPSET << 8) | cmd, flags, &g, sizeof g);
}

/* ipset's own error numbers (IPSET_ERR_*, 4096 and up) have no strerror: ipset's words for them. */
static int ipset_error(void)
{
	if (kerr == IPSET_ERR_EXIST) return fail("Element cannot be added to the set: it's already added");
	if (kerr == IPSET_ERR_PROTOCOL) return fail("Kernel error received: ipset protocol error");
	if (kerr >= IPSET_ERR_PRIVATE) return fail("ipset error %d (include/uapi/linux/netfilter/ipset/ip_set*.h)", kerr);
	return -1;
}

/* The revision in an IPSET_CMD_TYPE answer. */
static void type_answer(const struct nlattr *a, const char *end, void *arg)
{
	for (; (const char *)a + NLA_HDRLEN <= end && a->nla_len >= NLA_HDRLEN; a = (const void *)((const char *)a + NLA_ALIGN(a->nla_len)))
		if ((a->nla_type & NLA_TYPE_MASK) == IPSET_ATTR_REVISION) *(int *)arg = *((const uint8_t *)a + NLA_HDRLEN);
}

static void be16(struct nlmsghdr *n, int t, uint16_t v) { v = htons(v); put(n, t | NLA_F_NET_BYTEORDER, &v, 2); }
static void be32(struct nlmsghdr *n, int t, uint32_t v) { v = htonl(v); put(n, t | NLA_F_NET_BYTEORDER, &v, 4); }
static struct nlattr *nest(struct nlmsghdr *n, int t) { return put(n, t | NLA_F_NESTED, NULL, 0); }
static void str(struct nlmsghdr *n, int t, const char *s) { put(n, t, s, strlen(s) + 1); }
static void addr(struct nlmsghdr *n, int t, uint32_t a) /* a nested IPv4 address, network order */
{
	struct nlattr *x = nest(n, t);
	put(n, IPSET_ATTR_IPADDR_IPV4 | NLA_F_NET_BYTEORDER, &a, 4);
	end(n, x);
}

/* The kernel's highest revision of a type (IPSET_CMD_TYPE, as ipset's type check asks it). */
static int type_revision(int kind)
{
	if (revision[kind]) return revision[kind] - 1;
	struct req r;
	struct nlmsghdr *n = request(&r, IPSET_CMD_TYPE, 0);
	int rev = -1;
	put8(n, IPSET_ATTR_PROTOCOL, IPSET_PROTOCOL);
	str(n, IPSET_ATTR_TYPENAME, TYPES[kind]);
	put8(n, IPSET_ATTR_FAMILY, kind == BITMAP_PORT ? NFPROTO_UNSPEC : NFPROTO_IPV4);
	if (talk(n, 4, type_answer, &rev) < 0) return ipset_error();
	if (rev < 0) return fail("the kernel named no revision of %s", TYPES[kind]);
	revision[kind] = rev + 1;
	return rev;
}

static int apply(const void *op, int line)
{
	const struct op *o = op;
	struct req r;
	struct nlmsghdr *n = request(&r, o->add ? IPSET_CMD_ADD : IPSET_CMD_CREATE, NLM_F_EXCL);
	put8(n, IPSET_ATTR_PROTOCOL, IPSET_PROTOCOL);
	str(n, IPSET_ATTR_SETNAME, o->name);
	if (!o->add) {
		int rev = type_revision(o->kind);
		if (rev < 0) return -1;
		str(n, IPSET_ATTR_TYPENAME, TYPES[o->kind]);
		put8(n, IPSET_ATTR_REVISION, rev);
		put8(n, IPSET_ATTR_FAMILY, o->kind == BITMAP_PORT ? NFPROTO_UNSPEC : NFPROTO_IPV4);
		struct nlattr *d = nest(n, IPSET_ATTR_DATA);
		if (o->kind == BITMAP_PORT) {
			be16(n, IPSET_ATTR_PORT, o->port);
			be16(n, IPSET_ATTR_PORT_TO, o->port_to);
		} else {
			be32(n, IPSET_ATTR_HASHSIZE, o->hashsize);
			be32(n, IPSET_ATTR_MAXELEM, o->maxelem);
		}
		end(n, d);
		return talk(n, 4, NULL, NULL) < 0 ? ipset_error() : 0;
	}
	struct nlattr *d = nest(n, IPSET_ATTR_DATA);
	if (o->kind == BITMAP_PORT) be16(n, IPSET_ATTR_PORT, o->port);
	else {
		addr(n, IPSET_ATTR_IP, o->ip);
		if (o->kind != HASH_IP) {
			be16(n, IPSET_ATTR_PORT, o->port);
			put8(n, IPSET_ATTR_PROTO, o->proto);
		}
		if (o->kind == HASH_IPPORTIP || o->kind == HASH_IPPORTNET) addr(n, IPSET_ATTR_IP2, o->ip2);
		if (o->cidr2) put8(n, IPSET_ATTR_CIDR2, o->cidr2);
	}
	put32(n, IPSET_ATTR_LINENO, line);
	end(n, d);
	return talk(n, 4, NULL, NULL) < 0 ? ipset_error() : 0;
}

int main(int argc, char **argv)
{
	static const struct grammar g = { "dlipset", NETLINK_NETFILTER, sizeof(struct op), parse_line, NULL, apply };
	return nlapply_main(argc, argv, &g);
}
