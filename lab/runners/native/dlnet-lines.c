/*
 * dlnet's batch grammar (see dlnet.c for the whole of it): each line of an `ip -batch` file the
 * lab's compilers emit becomes the one rtnetlink request iproute2 sends for it.
 */
#define _GNU_SOURCE
#include "dlnet.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fib_rules.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/veth.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct cur { char **w; int n, i; };
static int line_fds[4], n_line_fds; /* namespaces opened for the line's request, closed after it */

/* The value after keyword K, or NULL (with `why`) when the line ends there. */
static char *arg(struct cur *c, const char *k)
{
	if (c->i < c->n) return c->w[c->i++];
	fail("\"%s\" needs a value", k);
	return NULL;
}
static int is(struct cur *c, const char *k)
{
	if (c->i >= c->n || strcmp(c->w[c->i], k)) return 0;
	c->i++;
	return 1;
}

static int num(const char *s, unsigned long max, uint32_t *v)
{
	char *e;
	errno = 0;
	unsigned long x = strtoul(s, &e, 10);
	if (!*s || *s < '0' || *s > '9' || *e || errno || x > max) return fail("invalid number \"%s\"", s);
	*v = x;
	return 0;
}

/* IPv4 A or A/P (P 0-32; A alone is /32). */
static int prefix(const char *s, int masked, struct in_addr *a, int *len)
{
	char buf[INET_ADDRSTRLEN + 4];
	uint32_t p = 32;
	if (strlen(s) >= sizeof buf) return fail("invalid IPv4 address \"%s\"", s);
	strcpy(buf, s);
	char *slash = strchr(buf, '/');
	if (slash) {
		*slash = 0;
		if (!masked || num(slash + 1, 32, &p) < 0) return fail("invalid IPv4 %s \"%s\"", masked ? "prefix" : "address", s);
	}
	if (inet_pton(AF_INET, buf, a) != 1) return fail("invalid IPv4 address \"%s\"", s);
	if (len) *len = p;
	return 0;
}

static int mac(const char *s, unsigned char m[6])
{
	int used = -1;
	if (strspn(s, "0123456789abcdefABCDEF:") != strlen(s)) return fail("invalid MAC address \"%s\"", s);
	if (sscanf(s, "%2hhx:%2hhx:%2hhx:%2hhx:%2hhx:%2hhx%n", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5], &used) != 6 || used != 17 || s[used])
		return fail("invalid MAC address \"%s\"", s);
	return 0;
}

/* A device of the current namespace (if_nametoindex asks through a socket made here). */
static int dev(const char *name, int *index)
{
	*index = strlen(name) < IFNAMSIZ ? (int)if_nametoindex(name) : 0;
	return *index ? 0 : fail("Cannot find device \"%s\"", name);
}

static int ifname(const char *s) { return *s && strlen(s) < IFNAMSIZ ? 0 : fail("invalid interface name \"%s\"", s); }

/* `netns NAME`: only a namespace of this lab, by its path under /run/netns. */
static int netns_fd(const char *name, int *fd)
{
	char path[128];
	if (!is_lab_ns(name)) return fail("netns \"%s\" is not a namespace of lab %s", name, lab);
	snprintf(path, sizeof path, "/run/netns/%s", name);
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0) return fail("netns %s: %s", path, strerror(errno));
	line_fds[n_line_fds++] = *fd;
	return 0;
}

static int table(const char *s, uint32_t *t)
{
	if (!strcmp(s, "main")) *t = RT_TABLE_MAIN;
	else if (!strcmp(s, "local")) *t = RT_TABLE_LOCAL;
	else if (!strcmp(s, "default")) *t = RT_TABLE_DEFAULT;
	else return num(s, UINT32_MAX, t);
	return 0;
}

static int scope(const char *s, unsigned char *sc)
{
	if (!strcmp(s, "host")) *sc = RT_SCOPE_HOST;
	else if (!strcmp(s, "link")) *sc = RT_SCOPE_LINK;
	else if (!strcmp(s, "global")) *sc = RT_SCOPE_UNIVERSE;
	else return fail("unsupported scope \"%s\"", s);
	return 0;
}

static int unsupported(const char *w) { return fail("unsupported: \"%s\"", w); }

/* A link's own words: [NAME|name NAME] [link DEV] [index N] [address MAC] [netns NS], up to `type`
 * (a veth peer's: to the end of the line, without `link`). */
struct spec { char *name, *link; unsigned char mac[6]; int has_mac, nsfd; uint32_t index; };
static int spec(struct cur *c, struct spec *s, int peer)
{
	for (int first = 1; c->i < c->n; first = 0) {
		char *k = c->w[c->i++], *v;
		if (!strcmp(k, "type")) {
			if (peer) return unsupported(k);
			c->i--;
			return 0;
		}
		int known = !strcmp(k, "name") || !strcmp(k, "index") || !strcmp(k, "address") || !strcmp(k, "netns") || (!peer && !strcmp(k, "link"));
		if (!known) {
			if (!first) return unsupported(k);
			v = k, k = "name"; /* `link add NAME`, `peer NAME` */
		} else if (!(v = arg(c, k))) return -1;
		int again = !strcmp(k, "name") ? !!s->name : !strcmp(k, "index") ? !!s->index : !strcmp(k, "address") ? s->has_mac
			  : !strcmp(k, "netns") ? s->nsfd >= 0 : !!s->link;
		if (again) return fail("\"%s\" given twice", k);
		if (!strcmp(k, "name")) { if (ifname(v) < 0) return -1; s->name = v; }
		else if (!strcmp(k, "index")) { if (num(v, INT32_MAX, &s->index) < 0) return -1; if (!s->index) return fail("invalid index \"%s\"", v); }
		else if (!strcmp(k, "address")) { if (mac(v, s->mac) < 0) return -1; s->has_mac = 1; }
		else if (!strcmp(k, "netns")) { if (netns_fd(v, &s->nsfd) < 0) return -1; }
		else { if (ifname(v) < 0) return -1; s->link = v; }
	}
	return 0;
}

static void put_spec(struct nlmsghdr *n, struct spec *s)
{
	if (s->name) put(n, IFLA_IFNAME, s->name, strlen(s->name) + 1);
	if (s->has_mac) put(n, IFLA_ADDRESS, s->mac, 6);
	if (s->nsfd >= 0) put32(n, IFLA_NET_NS_FD, s->nsfd);
}

/* The words after `type KIND`: its IFLA_INFO_DATA (sent only when there are words, as ip does). */
static int kind_data(struct cur *c, struct nlmsghdr *n, const char *kind)
{
	uint32_t v;
	if (!strcmp(kind, "veth")) {
		struct spec p = { .nsfd = -1 };
		struct ifinfomsg pi = { 0 };
		if (!is(c, "peer")) return fail("veth needs \"peer\"");
		if (spec(c, &p, 1) < 0) return -1;
		struct nlattr *pa = put(n, VETH_INFO_PEER, NULL, 0);
		pi.ifi_index = p.index; /* the peer is an ifinfomsg and its attributes (linux/veth.h) */
		memcpy((char *)n + n->nlmsg_len, &pi, sizeof pi);
		n->nlmsg_len += NLMSG_ALIGN(sizeof pi);
		put_spec(n, &p);
		end(n, pa);
	} else if (!strcmp(kind, "vlan")) {
		char *id;
		if (!is(c, "id")) return fail("vlan needs \"id\"");
		if (!(id = arg(c, "id")) || num(id, 4094, &v) < 0) return -1;
		put16(n, IFLA_VLAN_ID, v);
	} else if (!strcmp(kind, "ipvlan")) {
		uint16_t flags = 0;
		if (is(c, "mode")) {
			char *m = arg(c, "mode");
			if (!m) return -1;
			if (!strcmp(m, "l2")) v = IPVLAN_MODE_L2;
			else if (!strcmp(m, "l3")) v = IPVLAN_MODE_L3;
			else if (!strcmp(m, "l3s")) v = IPVLAN_MODE_L3S;
			else return fail("unsupported ipvlan mode \"%s\"", m);
			put16(n, IFLA_IPVLAN_MODE, v);
		}
		if (is(c, "private")) flags = IPVLAN_F_PRIVATE;
		else if (is(c, "vepa")) flags = IPVLAN_F_VEPA;
		else is(c, "bridge");
		put16(n, IFLA_IPVLAN_FLAGS, flags);
	}
	return c->i < c->n ? unsupported(c->w[c->i]) : 0;
}

static int link_add(struct cur *c)
{
	struct spec s = { .nsfd = -1 };
	struct ifinfomsg ifi = { 0 };
	struct req r;
	char *kind;
	int li;
	if (spec(c, &s, 0) < 0) return -1;
	if (!is(c, "type")) return fail("\"type\" is required");
	if (!(kind = arg(c, "type"))) return -1;
	if (strcmp(kind, "veth") && strcmp(kind, "vlan") && strcmp(kind, "ipvlan") && strcmp(kind, "dummy") && strcmp(kind, "bridge"))
		return fail("unsupported link type \"%s\"", kind);
	ifi.ifi_index = s.index;
	struct nlmsghdr *n = start(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof ifi);
	if (s.link) {
		if (dev(s.link, &li) < 0) return -1;
		put32(n, IFLA_LINK, li);
	}
	put_spec(n, &s);
	struct nlattr *info = put(n, IFLA_LINKINFO, NULL, 0);
	put(n, IFLA_INFO_KIND, kind, strlen(kind) + 1);
	if (c->i < c->n || !strcmp(kind, "veth") || !strcmp(kind, "vlan")) { /* these two need their words */
		struct nlattr *data = put(n, IFLA_INFO_DATA, NULL, 0);
		if (kind_data(c, n, kind) < 0) return -1;
		end(n, data);
	}
	end(n, info);
	return talk(n, 0, NULL, NULL);
}

static int link_set(struct cur *c)
{
	struct ifinfomsg ifi = { 0 };
	struct req r;
	char *d = arg(c, "set"), *v;
	int m;
	if (!d || dev(d, &ifi.ifi_index) < 0) return -1;
	struct nlmsghdr *n = start(&r, RTM_NEWLINK, 0, &ifi, sizeof ifi);
	struct ifinfomsg *h = NLMSG_DATA(n);
	if (c->i == c->n) return fail("nothing to set");
	while (c->i < c->n) {
		if (is(c, "up")) h->ifi_change |= IFF_UP, h->ifi_flags |= IFF_UP;
		else if (is(c, "down")) h->ifi_change |= IFF_UP, h->ifi_flags &= ~IFF_UP;
		else if (is(c, "name")) { if (!(v = arg(c, "name")) || ifname(v) < 0) return -1; put(n, IFLA_IFNAME, v, strlen(v) + 1); }
		else if (is(c, "master")) { if (!(v = arg(c, "master")) || dev(v, &m) < 0) return -1; put32(n, IFLA_MASTER, m); }
		else if (is(c, "arp")) {
			if (!(v = arg(c, "arp"))) return -1;
			h->ifi_change |= IFF_NOARP;
			if (!strcmp(v, "off")) h->ifi_flags |= IFF_NOARP;
			else if (!strcmp(v, "on")) h->ifi_flags &= ~IFF_NOARP;
			else return unsupported(v);
		} else return unsupported(c->w[c->i]);
	}
	return talk(n, 0, NULL, NULL);
}

static int address_add(struct cur *c)
{
	struct ifaddrmsg ifa = { .ifa_family = AF_INET };
	struct in_addr local, peer;
	int llen, plen = -1, scoped = 0, ifindex = 0;
	struct req r;
	char *v;
	if (!(v = arg(c, "add")) || prefix(v, 1, &local, &llen) < 0) return -1;
	while (c->i < c->n) {
		if (is(c, "peer")) { if (!(v = arg(c, "peer")) || prefix(v, 1, &peer, &plen) < 0) return -1; }
		else if (is(c, "dev")) { if (!(v = arg(c, "dev")) || dev(v, &ifindex) < 0) return -1; }
		else if (is(c, "scope")) { if (!(v = arg(c, "scope")) || scope(v, &ifa.ifa_scope) < 0) return -1; scoped = 1; }
		else return unsupported(c->w[c->i]);
	}
	if (!ifindex) return fail("\"dev\" is required");
	ifa.ifa_index = ifindex;
	ifa.ifa_prefixlen = plen >= 0 ? plen : llen; /* a peer's prefix length wins, as in ip */
	if (!scoped && (ntohl(local.s_addr) >> 24) == 127) ifa.ifa_scope = RT_SCOPE_HOST;
	struct nlmsghdr *n = start(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &ifa, sizeof ifa);
	put(n, IFA_LOCAL, &local, 4);
	put(n, IFA_ADDRESS, plen >= 0 ? &peer : &local, 4);
	return talk(n, 0, NULL, NULL);
}

static int neigh(struct cur *c, int flags)
{
	struct ndmsg nd = { .ndm_family = AF_INET, .ndm_state = NUD_PERMANENT };
	struct in_addr dst;
	unsigned char ll[6];
	int has_ll = 0, ifindex = 0;
	struct req r;
	char *v;
	if (!(v = arg(c, "neigh")) || prefix(v, 0, &dst, NULL) < 0) return -1;
	while (c->i < c->n) {
		if (is(c, "lladdr")) { if (!(v = arg(c, "lladdr")) || mac(v, ll) < 0) return -1; has_ll = 1; }
		else if (is(c, "dev")) { if (!(v = arg(c, "dev")) || dev(v, &ifindex) < 0) return -1; }
		else if (is(c, "nud")) {
			if (!(v = arg(c, "nud"))) return -1;
			if (!strcmp(v, "permanent")) nd.ndm_state = NUD_PERMANENT;
			else if (!strcmp(v, "noarp")) nd.ndm_state = NUD_NOARP;
			else return fail("unsupported nud state \"%s\"", v);
		} else return unsupported(c->w[c->i]);
	}
	if (!ifindex) return fail("\"dev\" is required");
	nd.ndm_ifindex = ifindex;
	struct nlmsghdr *n = start(&r, RTM_NEWNEIGH, flags, &nd, sizeof nd);
	put(n, NDA_DST, &dst, 4);
	if (has_ll) put(n, NDA_LLADDR, ll, 6);
	return talk(n, 0, NULL, NULL);
}

static int route(struct cur *c, int flags)
{
	struct rtmsg rt = { .rtm_family = AF_INET, .rtm_table = RT_TABLE_MAIN, .rtm_protocol = RTPROT_BOOT,
			    .rtm_scope = RT_SCOPE_UNIVERSE, .rtm_type = RTN_UNICAST };
	struct in_addr dst = { 0 }, gw;
	int len = 0, has_gw = 0, scoped = 0, ifindex = 0;
	uint32_t t = RT_TABLE_MAIN;
	struct req r;
	char *v;
	if (!(v = arg(c, "route"))) return -1;
	if (*v < '0' || *v > '9') { if (strcmp(v, "default")) return unsupported(v); } /* a route type, `to` … */
	else if (prefix(v, 1, &dst, &len) < 0) return -1;
	rt.rtm_dst_len = len;
	while (c->i < c->n) {
		if (is(c, "via")) { if (!(v = arg(c, "via")) || prefix(v, 0, &gw, NULL) < 0) return -1; has_gw = 1; }
		else if (is(c, "dev")) { if (!(v = arg(c, "dev")) || dev(v, &ifindex) < 0) return -1; }
		else if (is(c, "onlink")) rt.rtm_flags |= RTNH_F_ONLINK;
		else if (is(c, "table")) { if (!(v = arg(c, "table")) || table(v, &t) < 0) return -1; }
		else if (is(c, "scope")) { if (!(v = arg(c, "scope")) || scope(v, &rt.rtm_scope) < 0) return -1; scoped = 1; }
		else return unsupported(c->w[c->i]);
	}
	if (!scoped && !has_gw) rt.rtm_scope = RT_SCOPE_LINK; /* ip's default for a route without gateway */
	rt.rtm_table = t < 256 ? t : RT_TABLE_UNSPEC;
	struct nlmsghdr *n = start(&r, RTM_NEWROUTE, flags, &rt, sizeof rt);
	put(n, RTA_DST, &dst, 4);
	if (t >= 256) put32(n, RTA_TABLE, t);
	if (has_gw) put(n, RTA_GATEWAY, &gw, 4);
	if (ifindex) put32(n, RTA_OIF, ifindex);
	return talk(n, 0, NULL, NULL);
}

static int rule_add(struct cur *c)
{
	struct fib_rule_hdr h = { .family = AF_INET, .action = FR_ACT_TO_TBL, .table = RT_TABLE_MAIN };
	struct req r;
	struct nlmsghdr *n = start(&r, RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, &h, sizeof h);
	struct fib_rule_hdr *fh = NLMSG_DATA(n);
	struct in_addr a;
	int len;
	uint32_t v32;
	char *v;
	if (c->i == c->n) return fail("\"rule add\" needs arguments");
	while (c->i < c->n) {
		if (is(c, "from") || is(c, "to")) {
			int from = c->w[c->i - 1][0] == 'f';
			if (!(v = arg(c, from ? "from" : "to")) || prefix(v, 1, &a, &len) < 0) return -1;
			if (from) fh->src_len = len; else fh->dst_len = len;
			put(n, from ? FRA_SRC : FRA_DST, &a, 4);
		} else if (is(c, "iif")) { if (!(v = arg(c, "iif")) || ifname(v) < 0) return -1; put(n, FRA_IIFNAME, v, strlen(v) + 1); }
		else if (is(c, "lookup")) {
			if (!(v = arg(c, "lookup")) || table(v, &v32) < 0) return -1;
			fh->table = v32 < 256 ? v32 : RT_TABLE_UNSPEC;
			if (v32 >= 256) put32(n, FRA_TABLE, v32);
		} else if (is(c, "pref")) { if (!(v = arg(c, "pref")) || num(v, UINT32_MAX, &v32) < 0) return -1; put32(n, FRA_PRIORITY, v32); }
		else return unsupported(c->w[c->i]);
	}
	return talk(n, 0, NULL, NULL);
}

/* One batch line: blank and `#` comment lines do nothing; quotes and escapes are not in the grammar. */
int apply_line(char *line)
{
	char *w[32];
	int n = 0, rc;
	if (line[strspn(line, " \t")] == '#') return 0;
	if (line[strcspn(line, "\"'\\#")]) return fail("unsupported: quotes, escapes and comments after words");
	for (char *t = strtok(line, " \t"); t; t = strtok(NULL, " \t")) {
		if (n == 32) return fail("too many words");
		w[n++] = t;
	}
	if (!n) return 0;
	struct cur c = { w, n, 2 };
#define IS(a, b) (n >= 2 && !strcmp(w[0], a) && !strcmp(w[1], b))
	if (IS("link", "add")) rc = link_add(&c);
	else if (IS("link", "set")) rc = link_set(&c);
	else if (IS("address", "add")) rc = address_add(&c);
	else if (IS("neigh", "add")) rc = neigh(&c, NLM_F_CREATE | NLM_F_EXCL);
	else if (IS("neigh", "replace")) rc = neigh(&c, NLM_F_CREATE | NLM_F_REPLACE);
	else if (IS("route", "add")) rc = route(&c, NLM_F_CREATE | NLM_F_EXCL);
	else if (IS("route", "replace")) rc = route(&c, NLM_F_CREATE | NLM_F_REPLACE);
	else if (IS("rule", "add")) rc = rule_add(&c);
	else rc = fail("unsupported command \"%s%s%s\"", w[0], n > 1 ? " " : "", n > 1 ? w[1] : "");
	while (n_line_fds) close(line_fds[--n_line_fds]);
	return rc;
}

