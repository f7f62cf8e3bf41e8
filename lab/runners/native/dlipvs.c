/*
 * dlipvs: loads the IPVS tables of many lab namespaces from one process, speaking the kernel's
 * "IPVS" generic netlink family itself — where one `ipvsadm -R` per namespace costs 50-60 ms of
 * process start inside User-Mode Linux and each line well under a millisecond. The agent
 * (lab/runners/agent/build.sh, dlipvs_group) hands it each run of consecutive ipvs steps; without
 * it (or with DL_DLIPVS=off), one `ipvsadm -R` per step.
 *
 * usage: dlipvs LAB NSPATH FILE [NSPATH FILE ...] — the arguments, the checks before anything is
 * sent (exit 2), the status lines and the stop at the first request the kernel refuses (exit 1,
 * FILE:LINE; `ipvsadm -R` would print the error and go on with the next line) are nlapply.c's,
 * shared with dlipset.
 *
 * The grammar is exactly the `ipvsadm -R` lines the lab's compiler writes (ipvsadmRestore in
 * lab/services/ipvs/virtual-servers.ts), IPv4 only, words separated by spaces:
 *   -A PROTO VIP:PORT -s SCHEDULER [-p TIMEOUT]
 *   -a PROTO VIP:PORT -r RIP:PORT -m -w WEIGHT
 *   PROTO -t | -u | --sctp-service;  PORT 1-65535;  SCHEDULER [a-z0-9_]{1,15};
 *   TIMEOUT 1-2678400 (ipvsadm's MAX_TIMEOUT, 31 days);  WEIGHT 0-65535 (ipvsadm's bounds)
 * Empty lines do nothing (ipvsadm skips them too); anything else is refused.
 *
 * Each line becomes the request ipvsadm 1.31 sends for it (ipvsadm.c process_options and
 * libipvs/libipvs.c ipvs_nl_fill_service_attr / ipvs_nl_fill_dest_attr,
 * https://git.kernel.org/pub/scm/utils/kernel/ipvsadm/ipvsadm.git/tree/libipvs/libipvs.c?h=v1.31),
 * with every attribute it sets, so the kernel's tables are the same:
 *   -A: IPVS_CMD_NEW_SERVICE, service {AF_INET, protocol, address (16 bytes, union nf_inet_addr),
 *       port, scheduler, flags {PERSISTENT when -p, else 0; mask ~0}, timeout (-p's, else 0),
 *       netmask 0xffffffff (ipvsadm's default persistence granularity, /32)}
 *   -a: IPVS_CMD_NEW_DEST, the same service attributes as ipvsadm sends them for -a (scheduler "",
 *       flags 0, timeout 0, netmask 0xffffffff), dest {AF_INET, address, port, forwarding method
 *       IP_VS_CONN_F_MASQ (-m), weight, tunnel type/port/flags 0, upper/lower thresholds 0}
 * The kernel's side: net/netfilter/ipvs/ip_vs_ctl.c (ip_vs_genl_set_cmd, ip_vs_genl_parse_service,
 * ip_vs_genl_parse_dest), https://elixir.bootlin.com/linux/v6.6/source/net/netfilter/ipvs/ip_vs_ctl.c;
 * the messages and attributes: include/uapi/linux/ip_vs.h; generic netlink and its controller:
 * https://docs.kernel.org/userspace-api/netlink/intro.html. test/kernel/dlipvs.test.ts compares
 * `ipvsadm -S -n` and `ipvsadm -Ln` of tables loaded both ways for every catalogue table.
 */
#define _GNU_SOURCE
#include "nlapply.h"
#include <arpa/inet.h>
#include <errno.h>
#include <linux/genetlink.h>
#include <linux/ip_vs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#ifndef IPPROTO_SCTP
#define IPPROTO_SCTP 132
#endif
#define MAX_TIMEOUT (86400 * 31) /* ipvsadm.c MAX_TIMEOUT */

/* One line: a service (-A) or a real server of one (-a). */
struct op {
	int dest;
	uint16_t proto, vport, rport; /* ports in network order */
	struct in_addr vaddr, raddr;
	char sched[IP_VS_SCHEDNAME_MAXLEN];
	uint32_t flags, timeout, weight;
};

static int family; /* the IPVS generic netlink family's id */

/* --- the grammar -------------------------------------------------------------------------- */

/* A.B.C.D:PORT, the port 1-65535. */
static int addrport(const char *s, struct in_addr *a, uint16_t *port)
{
	char buf[INET_ADDRSTRLEN + 6];
	uint32_t p;
	const char *colon = strrchr(s, ':');
	if (!colon || (size_t)(colon - s) >= INET_ADDRSTRLEN) return fail("\"%s\" is not IPv4-ADDRESS:PORT", s);
	memcpy(buf, s, colon - s);
	buf[colon - s] = 0;
	if (inet_pton(AF_INET, buf, a) != 1) return fail("invalid IPv4 address \"%s\"", buf);
	if (num(colon + 1, 1, 65535, &p) < 0) return fail("invalid port \"%s\" (1-65535)", colon + 1);
	*port = htons(p);
	return 0;
}

static int proto(const char *s, uint16_t *p)
{
	if (!strcmp(s, "-t")) *p = IPPROTO_TCP;
	else if (!strcmp(s, "-u")) *p = IPPROTO_UDP;
	else if (!strcmp(s, "--sctp-service")) *p = IPPROTO_SCTP;
	else return fail("unsupported: \"%s\" (expected -t, -u or --sctp-service)", s);
	return 0;
}

/* Parses one line into *op: 1, 0 for an empty line, -1 with why. */
static int parse_line(char *line, void *op, const void *ops, int n_ops)
{
	struct op *o = op;
	char *w[10];
	int n = 0;
	(void)ops, (void)n_ops;
	if (strpbrk(line, "\t\"'\\#")) return fail("tabs, quotes, backslashes and comments are not in the grammar");
	for (char *t = strtok(line, " "); t; t = strtok(NULL, " "))
		if (n < 10) w[n++] = t;
		else return fail("too many words");
	if (!n) return 0;
	memset(o, 0, sizeof *o);
	if (!strcmp(w[0], "-A")) {
		if (n != 5 && n != 7) return fail("expected -A PROTO VIP:PORT -s SCHEDULER [-p TIMEOUT]");
		if (proto(w[1], &o->proto) < 0 || addrport(w[2], &o->vaddr, &o->vport) < 0) return -1;
		if (strcmp(w[3], "-s")) return fail("unsupported: \"%s\" (expected -s)", w[3]);
		size_t len = strlen(w[4]);
		if (len < 1 || len >= IP_VS_SCHEDNAME_MAXLEN || strspn(w[4], "abcdefghijklmnopqrstuvwxyz0123456789_") != len)
			return fail("invalid scheduler \"%s\" ([a-z0-9_]{1,15})", w[4]);
		memcpy(o->sched, w[4], len + 1);
		if (n == 7) {
			if (strcmp(w[5], "-p")) return fail("unsupported: \"%s\" (expected -p)", w[5]);
			if (num(w[6], 1, MAX_TIMEOUT, &o->timeout) < 0) return -1;
			o->flags = IP_VS_SVC_F_PERSISTENT;
		}
		return 1;
	}
	if (!strcmp(w[0], "-a")) {
		if (n != 8) return fail("expected -a PROTO VIP:PORT -r RIP:PORT -m -w WEIGHT");
		o->dest = 1;
		if (proto(w[1], &o->proto) < 0 || addrport(w[2], &o->vaddr, &o->vport) < 0) return -1;
		if (strcmp(w[3], "-r")) return fail("unsupported: \"%s\" (expected -r)", w[3]);
		if (addrport(w[4], &o->raddr, &o->rport) < 0) return -1;
		if (strcmp(w[5], "-m")) return fail("unsupported: \"%s\" (expected -m: only masquerading is in the grammar)", w[5]);
		if (strcmp(w[6], "-w")) return fail("unsupported: \"%s\" (expected -w)", w[6]);
		return num(w[7], 0, 65535, &o->weight) < 0 ? -1 : 1;
	}
	return fail("unsupported: \"%s\" (expected -A or -a)", w[0]);
}

/* --- generic netlink ---------------------------------------------------------------------- */

static void put_addr(struct nlmsghdr *n, int t, struct in_addr a)
{
	unsigned char u[16] = { 0 }; /* union nf_inet_addr, as libipvs sends sizeof(svc->addr) */
	memcpy(u, &a, 4);
	put(n, t, u, sizeof u);
}

/* The IPVS family's id from the controller's answer (CTRL_ATTR_FAMILY_ID). */
static void family_id(const struct nlattr *a, const char *end, void *arg)
{
	for (; (const char *)a + NLA_HDRLEN <= end && a->nla_len >= NLA_HDRLEN; a = (const void *)((const char *)a + NLA_ALIGN(a->nla_len)))
		if ((a->nla_type & NLA_TYPE_MASK) == CTRL_ATTR_FAMILY_ID) *(int *)arg = *(const uint16_t *)((const char *)a + NLA_HDRLEN);
}

/* Once per run (generic netlink ids are the same in every namespace): the IPVS family's id. */
static int ready(void)
{
	if (family) return 0;
	struct req r;
	struct genlmsghdr g = { .cmd = CTRL_CMD_GETFAMILY, .version = 1 };
	struct nlmsghdr *n = start(&r, GENL_ID_CTRL, 0, &g, sizeof g);
	put(n, CTRL_ATTR_FAMILY_NAME, IPVS_GENL_NAME, sizeof IPVS_GENL_NAME);
	char said[sizeof why] = "no family id in the answer";
	if (talk(n, 4, family_id, &family) < 0) memcpy(said, why, sizeof said);
	return family ? 0 : fail("the kernel has no %s generic netlink family (%s): is ip_vs loaded?", IPVS_GENL_NAME, said);
}

/* The service nest, as ipvs_nl_fill_service_attr writes it (for -a: no scheduler, flags 0,
 * timeout 0: what ipvsadm's command entry holds for a dest line). */
static void service(struct nlmsghdr *n, const struct op *o)
{
	struct ip_vs_flags flags = { .flags = o->flags, .mask = ~0U };
	struct nlattr *s = put(n, IPVS_CMD_ATTR_SERVICE | NLA_F_NESTED, NULL, 0);
	put16(n, IPVS_SVC_ATTR_AF, AF_INET);
	put16(n, IPVS_SVC_ATTR_PROTOCOL, o->proto);
	put_addr(n, IPVS_SVC_ATTR_ADDR, o->vaddr);
	put16(n, IPVS_SVC_ATTR_PORT, o->vport);
	put(n, IPVS_SVC_ATTR_SCHED_NAME, o->sched, strlen(o->sched) + 1);
	put(n, IPVS_SVC_ATTR_FLAGS, &flags, sizeof flags);
	put32(n, IPVS_SVC_ATTR_TIMEOUT, o->timeout);
	put32(n, IPVS_SVC_ATTR_NETMASK, 0xffffffff);
	end(n, s);
}

static int apply(const void *op, int line)
{
	const struct op *o = op;
	struct req r;
	struct genlmsghdr g = { .cmd = o->dest ? IPVS_CMD_NEW_DEST : IPVS_CMD_NEW_SERVICE, .version = IPVS_GENL_VERSION };
	struct nlmsghdr *n = start(&r, family, 0, &g, sizeof g);
	(void)line;
	service(n, o);
	if (o->dest) {
		struct nlattr *d = put(n, IPVS_CMD_ATTR_DEST | NLA_F_NESTED, NULL, 0);
		put16(n, IPVS_DEST_ATTR_ADDR_FAMILY, AF_INET);
		put_addr(n, IPVS_DEST_ATTR_ADDR, o->raddr);
		put16(n, IPVS_DEST_ATTR_PORT, o->rport);
		put32(n, IPVS_DEST_ATTR_FWD_METHOD, IP_VS_CONN_F_MASQ);
		put32(n, IPVS_DEST_ATTR_WEIGHT, o->weight);
		put8(n, IPVS_DEST_ATTR_TUN_TYPE, 0);
		put16(n, IPVS_DEST_ATTR_TUN_PORT, 0);
		put16(n, IPVS_DEST_ATTR_TUN_FLAGS, 0);
		put32(n, IPVS_DEST_ATTR_U_THRESH, 0);
		put32(n, IPVS_DEST_ATTR_L_THRESH, 0);
		end(n, d);
	}
	if (talk(n, 4, NULL, NULL) == 0) return 0;
	/* ipvsadm's words for the usual refusals (libipvs ipvs_strerror) after the kernel's */
	const char *adm = kerr == EEXIST ? (o->dest ? "Destination already exists" : "Service already exists")
		: kerr == ESRCH && o->dest ? "Service not defined"
		: kerr == ENOENT && !o->dest ? "Scheduler or persistence engine not found" : NULL;
	char said[sizeof why];
	memcpy(said, why, sizeof said);
	return adm ? fail("%s: %s", said, adm) : -1;
}

int main(int argc, char **argv)
{
	static const struct grammar g = { "dlipvs", NETLINK_GENERIC, sizeof(struct op), parse_line, ready, apply };
	return nlapply_main(argc, argv, &g);
}
