/*
 * nlapply: the part dlipvs and dlipset share (see nlapply.h).
 *
 * usage: PROG LAB NSPATH FILE [NSPATH FILE ...]
 *   LAB     the lab id (6 hex digits, as the agent's journal has it)
 *   NSPATH  /run/netns/dl-LAB-<object>: the namespace FILE is applied in (setns(2),
 *           https://man7.org/linux/man-pages/man2/setns.2.html); a new netlink socket is opened
 *           there, so every request answers for that namespace, as the tool run with
 *           `ip netns exec NS` would.
 * Every argument and every line of every file is checked before anything is sent: a namespace
 * that is not the lab's, or a line outside the grammar ("FILE:LINE: <line>: <reason>" on stderr),
 * is exit 2 with nothing applied anywhere. Then one line per file applied or failed,
 * "INDEX<TAB>STATUS<TAB>END" (as dlnet and dlnsrun: INDEX from 1, STATUS 0 or 1, END the epoch
 * time with microseconds). The first request the kernel refuses stops the run: "FILE:LINE: <line>:
 * <reason>", exit 1. Netlink acknowledgements and extended acks:
 * https://docs.kernel.org/userspace-api/netlink/intro.html.
 */
#define _GNU_SOURCE
#include "nlapply.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

char why[512];
int kerr;
static int nl = -1;
static unsigned seq;

int fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	return -1;
}

int num(const char *s, unsigned long lo, unsigned long hi, uint32_t *v)
{
	char *e;
	errno = 0;
	unsigned long x = strtoul(s, &e, 10);
	if (*s < '0' || *s > '9' || *e || errno || x < lo || x > hi) return fail("invalid number \"%s\" (%lu-%lu)", s, lo, hi);
	*v = x;
	return 0;
}

struct nlmsghdr *start(struct req *r, int type, int flags, const void *hdr, size_t len)
{
	struct nlmsghdr *n = (void *)r->b;
	memset(r, 0, sizeof *r);
	n->nlmsg_type = type;
	n->nlmsg_flags = flags;
	n->nlmsg_len = NLMSG_LENGTH(len);
	memcpy(NLMSG_DATA(n), hdr, len);
	return n;
}
struct nlattr *put(struct nlmsghdr *n, int type, const void *data, size_t len)
{
	struct nlattr *a = (void *)((char *)n + NLMSG_ALIGN(n->nlmsg_len));
	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	if (len) memcpy((char *)a + NLA_HDRLEN, data, len);
	n->nlmsg_len = NLMSG_ALIGN(n->nlmsg_len) + NLA_ALIGN(a->nla_len);
	return a;
}
void put8(struct nlmsghdr *n, int t, uint8_t v) { put(n, t, &v, 1); }
void put16(struct nlmsghdr *n, int t, uint16_t v) { put(n, t, &v, 2); }
void put32(struct nlmsghdr *n, int t, uint32_t v) { put(n, t, &v, 4); }
void end(struct nlmsghdr *n, struct nlattr *a) { a->nla_len = (char *)n + n->nlmsg_len - (char *)a; }

int talk(struct nlmsghdr *n, reply_fn *reply, void *arg)
{
	char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
	n->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	n->nlmsg_seq = ++seq;
	kerr = 0;
	if (send(nl, n, n->nlmsg_len, 0) < 0) return fail("netlink send: %s", strerror(errno));
	for (;;) {
		ssize_t len = recv(nl, buf, sizeof buf, 0);
		if (len < 0) {
			if (errno == EINTR) continue;
			return fail("netlink receive: %s", strerror(errno));
		}
		for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, (size_t)len); h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_seq != seq) continue;
			if (h->nlmsg_type != NLMSG_ERROR) {
				/* both families' headers (genlmsghdr, nfgenmsg) take 4 bytes */
				if (reply) reply((void *)((char *)NLMSG_DATA(h) + NLMSG_ALIGN(4)), (char *)h + h->nlmsg_len, arg);
				continue;
			}
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
			return msg ? fail("%s (%s)", strerror(kerr), msg) : fail("%s", strerror(kerr));
		}
	}
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

/* Enters the namespace at PATH and opens the tool's netlink there (a socket answers for the
 * namespace it was created in: the previous one is closed). */
static int enter(const char *path, const struct grammar *g)
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
	nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, g->protocol);
	if (nl < 0) return fail("netlink socket: %s", strerror(errno));
	setsockopt(nl, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one); /* best effort: messages only */
	return g->ready ? g->ready() : 0;
}

/* One file: its namespace, its parsed lines (g->size bytes each), their numbers and text. */
struct file { const char *ns, *path; char *ops; int *lines; char **text; int n; };

/* Reads and checks FILE whole; 0, or -1 after printing FILE:LINE. */
static int load(struct file *f, const struct grammar *g)
{
	FILE *in = fopen(f->path, "re");
	if (!in) { fprintf(stderr, "%s: %s\n", f->path, strerror(errno)); return -1; }
	char *line = NULL, *op = malloc(g->size);
	size_t cap = 0;
	int no = 0, rc = op ? 0 : -1;
	while (!rc && getline(&line, &cap, in) >= 0) {
		no++;
		line[strcspn(line, "\r\n")] = 0;
		char *copy = strdup(line);
		int r = copy ? g->parse(line, op, f->ops, f->n) : fail("%s", strerror(ENOMEM));
		if (r < 0) { fprintf(stderr, "%s:%d: %s: %s\n", f->path, no, copy ? copy : "", why); free(copy); rc = -1; break; }
		if (!r) { free(copy); continue; }
		char *ops = realloc(f->ops, (f->n + 1) * g->size);
		int *lines = realloc(f->lines, (f->n + 1) * sizeof *lines);
		char **text = realloc(f->text, (f->n + 1) * sizeof *text);
		if (ops) f->ops = ops;
		if (lines) f->lines = lines;
		if (text) f->text = text;
		if (!ops || !lines || !text) { fprintf(stderr, "%s: %s\n", f->path, strerror(ENOMEM)); free(copy); rc = -1; break; }
		memcpy(f->ops + f->n * g->size, op, g->size);
		f->lines[f->n] = no;
		f->text[f->n++] = copy;
	}
	if (!op) fprintf(stderr, "%s: %s\n", f->path, strerror(ENOMEM));
	if (!rc && ferror(in)) { fprintf(stderr, "%s: %s\n", f->path, strerror(errno)); rc = -1; }
	free(op);
	free(line);
	fclose(in);
	return rc;
}

int nlapply_main(int argc, char **argv, const struct grammar *g)
{
	if (argc < 4 || argc % 2) { fprintf(stderr, "usage: %s LAB NSPATH FILE [NSPATH FILE ...]\n", g->prog); return 2; }
	const char *lab = argv[1];
	if (strlen(lab) != 6 || strspn(lab, "0123456789abcdef") != 6) { fprintf(stderr, "%s: lab id \"%s\" is not 6 hex digits\n", g->prog, lab); return 2; }
	int nf = (argc - 2) / 2;
	struct file *files = calloc(nf, sizeof *files);
	if (!files) { fprintf(stderr, "%s: %s\n", g->prog, strerror(ENOMEM)); return 2; }
	/* Everything is checked before anything is applied: a namespace that is not the lab's, or a
	 * line outside the grammar, applies nothing anywhere. */
	for (int i = 0; i < nf; i++) {
		files[i].ns = argv[2 + 2 * i];
		files[i].path = argv[3 + 2 * i];
		if (!is_lab_ns_path(lab, files[i].ns)) {
			fprintf(stderr, "%s: %s is not a namespace of lab %s (/run/netns/dl-%s-…)\n", g->prog, files[i].ns, lab, lab);
			return 2;
		}
	}
	for (int i = 0; i < nf; i++)
		if (load(&files[i], g) < 0) return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0; i < nf; i++) {
		struct file *f = &files[i];
		int bad = 0;
		if (enter(f->ns, g) < 0) { fprintf(stderr, "%s: %s\n", g->prog, why); bad = 1; }
		for (int k = 0; !bad && k < f->n; k++)
			if (g->apply(f->ops + k * g->size, f->lines[k]) < 0) {
				fprintf(stderr, "%s:%d: %s: %s\n", f->path, f->lines[k], f->text[k], why);
				bad = 1;
			}
		struct timeval tv;
		gettimeofday(&tv, NULL);
		printf("%d\t%d\t%ld.%06ld\n", i + 1, bad, (long)tv.tv_sec, (long)tv.tv_usec);
		if (bad) return 1;
	}
	return 0;
}
