/*
 * dlipvs: loads the IPVS tables of many lab namespaces from one process, speaking the kernel's
 * "IPVS" generic netlink family itself — where one `ipvsadm -R` per namespace costs 50-60 ms of
 * process start inside User-Mode Linux and each line well under a millisecond. The agent
 * (lab/runners/agent/build.sh, dlipvs_group) hands it each run of consecutive ipvs steps; without
 * it (or with DL_DLIPVS=off), one `ipvsadm -R` per step.
 *
 * usage: dlipvs LAB NSPATH FILE [NSPATH FILE ...]
 *   LAB     the lab id (6 hex digits, as the agent's journal has it)
 *   NSPATH  /run/netns/dl-LAB-<object>: the namespace FILE is loaded in (setns(2),
 *           https://man7.org/linux/man-pages/man2/setns.2.html); a new generic netlink socket is
 *           opened there, so every request answers for that namespace's IPVS, as
 *           `ip netns exec NS ipvsadm -R <FILE` would.
 * Every argument and every line of every file is checked before anything is sent: a namespace
 * that is not the lab's, or a line outside the grammar ("FILE:LINE: <line>: <reason>" on
 * stderr), is exit 2 with nothing applied anywhere. Then one line per file applied or failed,
 * "INDEX<TAB>STATUS<TAB>END" (as dlnet and dlnsrun: INDEX from 1, STATUS 0 or 1, END the epoch
 * time with microseconds). The first request the kernel refuses stops the run: "FILE:LINE: <line>:
 * <reason>" (strerror, and the kernel's extended-ack text when it gives one), exit 1 — where
 * `ipvsadm -R` would print the error and go on with the next line.
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
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/genetlink.h>
#include <linux/ip_vs.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#ifndef IPPROTO_SCTP
#define IPPROTO_SCTP 132
#endif
#define MAX_TIMEOUT (86400 * 31) /* ipvsadm.c MAX_TIMEOUT */

/* One line: a service (-A) or a real server of one (-a). */
struct op {
	int dest, line;
	uint16_t proto, vport, rport; /* ports in network order */
	struct in_addr vaddr, raddr;
	char sched[IP_VS_SCHEDNAME_MAXLEN];
	uint32_t flags, timeout, weight;
	char *text;
};
struct file { const char *ns, *path; struct op *ops; int n; };

static char why[512];
static int nl = -1, family;
static unsigned seq;

static int kerr; /* the errno of the kernel's last refusal */

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	return -1;
}

/* A lab namespace path: /run/netns/dl-LAB-<object>, the agent's is_lab_ns ([A-Za-z0-9_][A-Za-z0-9_.-]{0,62}). */
static int is_lab_ns_path(const char *lab, const char *p)
{
	size_t n;
	if (strncmp(p, "/run/netns/dl-", 14) || strncmp(p + 14, lab, 6) || p[20] != '-') return 0;
	p += 21;
	n = strlen(p);
	if (n < 1 || n > 63 || p[0] == '.' || p[0] == '-') return 0;
	return strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

/* --- the grammar -------------------------------------------------------------------------- */

static int num(const char *s, unsigned long lo, unsigned long hi, uint32_t *v)
{
	char *e;
	errno = 0;
	unsigned long x = strtoul(s, &e, 10);
	if (*s < '0' || *s > '9' || *e || errno || x < lo || x > hi) return fail("invalid number \"%s\" (%lu-%lu)", s, lo, hi);
	*v = x;
	return 0;
}

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

/* Parses one line into *o: 1, 0 for an empty line, -1 with why. */
static int parse_line(char *line, struct op *o)
{
	char *w[10];
	int n = 0;
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

/* Reads and checks FILE whole; 0, or -1 after printing FILE:LINE. */
static int load(struct file *f)
{
	FILE *in = fopen(f->path, "re");
	if (!in) { fprintf(stderr, "%s: %s\n", f->path, strerror(errno)); return -1; }
	char *line = NULL;
	size_t cap = 0;
	int no = 0, rc = 0;
	while (getline(&line, &cap, in) >= 0) {
		no++;
		line[strcspn(line, "\r\n")] = 0;
		struct op o;
		char *copy = strdup(line);
		int r = copy ? parse_line(line, &o) : fail("%s", strerror(ENOMEM));
		if (r < 0) { fprintf(stderr, "%s:%d: %s: %s\n", f->path, no, copy ? copy : "", why); free(copy); rc = -1; break; }
		if (!r) { free(copy); continue; }
		struct op *ops = realloc(f->ops, (f->n + 1) * sizeof *ops);
		if (!ops) { fprintf(stderr, "%s: %s\n", f->path, strerror(ENOMEM)); free(copy); rc = -1; break; }
		o.line = no;
		o.text = copy;
		f->ops = ops;
		f->ops[f->n++] = o;
	}
	if (!rc && ferror(in)) { fprintf(stderr, "%s: %s\n", f->path, strerror(errno)); rc = -1; }
	free(line);
	fclose(in);
	return rc;
}

/* --- generic netlink ---------------------------------------------------------------------- */

struct req { char b[1024]; } __attribute__((aligned(NLMSG_ALIGNTO)));

static struct nlmsghdr *start(struct req *r, int type, int cmd, int version)
{
	struct nlmsghdr *n = (void *)r->b;
	memset(r, 0, sizeof *r);
	n->nlmsg_type = type;
	n->nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	struct genlmsghdr *g = NLMSG_DATA(n);
	g->cmd = cmd;
	g->version = version;
	return n;
}
static struct nlattr *put(struct nlmsghdr *n, int type, const void *data, size_t len)
{
	struct nlattr *a = (void *)((char *)n + NLMSG_ALIGN(n->nlmsg_len));
	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	if (len) memcpy((char *)a + NLA_HDRLEN, data, len);
	n->nlmsg_len = NLMSG_ALIGN(n->nlmsg_len) + NLA_ALIGN(a->nla_len);
	return a;
}
static void put8(struct nlmsghdr *n, int t, uint8_t v) { put(n, t, &v, 1); }
static void put16(struct nlmsghdr *n, int t, uint16_t v) { put(n, t, &v, 2); }
static void put32(struct nlmsghdr *n, int t, uint32_t v) { put(n, t, &v, 4); }
static void end(struct nlmsghdr *n, struct nlattr *a) { a->nla_len = (char *)n + n->nlmsg_len - (char *)a; }
static void put_addr(struct nlmsghdr *n, int t, struct in_addr a)
{
	unsigned char u[16] = { 0 }; /* union nf_inet_addr, as libipvs sends sizeof(svc->addr) */
	memcpy(u, &a, 4);
	put(n, t, u, sizeof u);
}

/* Sends a request and reads its answer; a CTRL_CMD_GETFAMILY reply's family id goes to *id.
 * On refusal, why holds strerror and the kernel's extended-ack message when it sent one. */
static int talk(struct nlmsghdr *n, int *id)
{
	char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
	n->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	n->nlmsg_seq = ++seq;
	if (send(nl, n, n->nlmsg_len, 0) < 0) return fail("netlink send: %s", strerror(errno));
	for (;;) {
		ssize_t len = recv(nl, buf, sizeof buf, 0);
		if (len < 0) {
			if (errno == EINTR) continue;
			return fail("netlink receive: %s", strerror(errno));
		}
		for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, (size_t)len); h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_seq != seq) continue;
			if (h->nlmsg_type == GENL_ID_CTRL && id) {
				struct nlattr *a = (void *)((char *)NLMSG_DATA(h) + GENL_HDRLEN);
				for (; (char *)a + NLA_HDRLEN <= (char *)h + h->nlmsg_len && a->nla_len >= NLA_HDRLEN;
				     a = (void *)((char *)a + NLA_ALIGN(a->nla_len)))
					if ((a->nla_type & NLA_TYPE_MASK) == CTRL_ATTR_FAMILY_ID) *id = *(uint16_t *)((char *)a + NLA_HDRLEN);
				continue;
			}
			if (h->nlmsg_type != NLMSG_ERROR) continue;
			struct nlmsgerr *e = NLMSG_DATA(h);
			if (!e->error) return 0;
			const char *msg = NULL;
			if (h->nlmsg_flags & NLM_F_ACK_TLVS) {
				size_t off = sizeof *e + ((h->nlmsg_flags & NLM_F_CAPPED) ? 0 : e->msg.nlmsg_len - NLMSG_HDRLEN);
				for (struct nlattr *a = (void *)((char *)e + NLMSG_ALIGN(off));
				     (char *)a + NLA_HDRLEN <= (char *)h + h->nlmsg_len && a->nla_len >= NLA_HDRLEN;
				     a = (void *)((char *)a + NLA_ALIGN(a->nla_len)))
					if (a->nla_type == NLMSGERR_ATTR_MSG) msg = (char *)a + NLA_HDRLEN;
			}
			kerr = -e->error;
			return msg ? fail("%s (%s)", strerror(-e->error), msg) : fail("%s", strerror(-e->error));
		}
	}
}

/* Enters the namespace at PATH and opens generic netlink there; the IPVS family's id is looked
 * up once (generic netlink ids are the same in every namespace). */
static int enter(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
		int e = errno;
		if (fd >= 0) close(fd);
		return fail("%s: %s", path, strerror(e));
	}
	close(fd);
	if (nl >= 0) close(nl);
	int one = 1;
	nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (nl < 0) return fail("generic netlink socket: %s", strerror(errno));
	setsockopt(nl, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one); /* best effort: messages only */
	if (family) return 0;
	struct req r;
	struct nlmsghdr *n = start(&r, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1);
	put(n, CTRL_ATTR_FAMILY_NAME, IPVS_GENL_NAME, sizeof IPVS_GENL_NAME);
	char said[sizeof why] = "no family id in the answer";
	if (talk(n, &family) < 0) memcpy(said, why, sizeof said);
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

static int apply(const struct op *o)
{
	struct req r;
	struct nlmsghdr *n = start(&r, family, o->dest ? IPVS_CMD_NEW_DEST : IPVS_CMD_NEW_SERVICE, IPVS_GENL_VERSION);
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
	kerr = 0;
	if (talk(n, NULL) == 0) return 0;
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
	if (argc < 4 || argc % 2) { fprintf(stderr, "usage: dlipvs LAB NSPATH FILE [NSPATH FILE ...]\n"); return 2; }
	const char *lab = argv[1];
	if (strlen(lab) != 6 || strspn(lab, "0123456789abcdef") != 6) { fprintf(stderr, "dlipvs: lab id \"%s\" is not 6 hex digits\n", lab); return 2; }
	int nf = (argc - 2) / 2;
	struct file *files = calloc(nf, sizeof *files);
	if (!files) { fprintf(stderr, "dlipvs: %s\n", strerror(ENOMEM)); return 2; }
	/* Everything is checked before anything is applied: a namespace that is not the lab's, or a
	 * line outside the grammar, applies nothing anywhere. */
	for (int i = 0; i < nf; i++) {
		files[i].ns = argv[2 + 2 * i];
		files[i].path = argv[3 + 2 * i];
		if (!is_lab_ns_path(lab, files[i].ns)) {
			fprintf(stderr, "dlipvs: %s is not a namespace of lab %s (/run/netns/dl-%s-…)\n", files[i].ns, lab, lab);
			return 2;
		}
	}
	for (int i = 0; i < nf; i++)
		if (load(&files[i]) < 0) return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0; i < nf; i++) {
		int bad = 0;
		if (enter(files[i].ns) < 0) { fprintf(stderr, "dlipvs: %s\n", why); bad = 1; }
		for (int k = 0; !bad && k < files[i].n; k++)
			if (apply(&files[i].ops[k]) < 0) {
				fprintf(stderr, "%s:%d: %s: %s\n", files[i].path, files[i].ops[k].line, files[i].ops[k].text, why);
				bad = 1;
			}
		struct timeval tv;
		gettimeofday(&tv, NULL);
		printf("%d\t%d\t%ld.%06ld\n", i + 1, bad, (long)tv.tv_sec, (long)tv.tv_usec);
		if (bad) return 1;
	}
	return 0;
}
