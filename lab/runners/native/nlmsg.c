/*
 * nlmsg: the netlink plumbing dlnet (rtnetlink), dlipvs (IPVS generic netlink) and dlipset (ipset
 * nfnetlink) share (see nlmsg.h). Messages, attributes and acknowledgements: netlink(7)
 * https://man7.org/linux/man-pages/man7/netlink.7.html; extended acks (NLMSGERR_ATTR_MSG):
 * https://docs.kernel.org/userspace-api/netlink/intro.html. rtnetlink's struct rtattr and the
 * other families' struct nlattr have the same layout (length, type, 4-byte alignment).
 */
#define _GNU_SOURCE
#include "nlmsg.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
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

int nl_open(int protocol)
{
	int one = 1;
	if (nl >= 0) close(nl);
	nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
	if (nl < 0) return fail("netlink socket: %s", strerror(errno));
	setsockopt(nl, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one); /* best effort: messages only */
	return 0;
}

int nl_enter(const char *path, int protocol)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
		int e = errno;
		if (fd >= 0) close(fd);
		return fail("%s: %s", path, strerror(e));
	}
	close(fd);
	return nl_open(protocol);
}

int talk(struct nlmsghdr *n, size_t hdrlen, reply_fn *reply, void *arg)
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
				if (reply) reply((void *)((char *)NLMSG_DATA(h) + NLMSG_ALIGN(hdrlen)), (char *)h + h->nlmsg_len, arg);
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

int lab_ns_name(const char *lab, const char *name)
{
	size_t p = strlen(lab), n;
	if (strncmp(name, "dl-", 3) || strncmp(name + 3, lab, p) || name[3 + p] != '-') return 0;
	name += 4 + p;
	n = strlen(name);
	if (n < 1 || n > 63 || name[0] == '.' || name[0] == '-') return 0;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}
