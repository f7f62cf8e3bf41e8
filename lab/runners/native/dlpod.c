/*
 * dlpod: the lab's pod servers and probe client, each one process with no `ip netns exec` — where
 * a socat per server (plus `ip netns exec` around it) costs 150-220 ms to start inside User-Mode
 * Linux and a fork per connection ~100 ms more. The server enters each pod's network namespace
 * with setns(2) (https://man7.org/linux/man-pages/man2/setns.2.html), opens its listening socket
 * there, goes back, and serves every socket from one epoll loop: a socket stays in the namespace
 * it was created in whatever namespace its process later joins (network_namespaces(7)).
 *
 * usage: dlpod serve LAB NSPATH PROTO PORT FILE [NSPATH PROTO PORT FILE]...
 *        dlpod probe LAB NSPATH PROTO IP PORT SPORT TIMEOUT TEXT
 *        dlpod bulk  LAB NSPATH PROTO IP PORT COUNT TIMEOUT
 *   LAB     the lab id (6 hex digits): every NSPATH must be /run/netns/dl-LAB-NAME, and never the
 *           namespace dlpod was started in (it opens no socket there)
 *   PROTO   tcp | udp | sctp
 * serve: what socat did per server (`socat -U TCP-LISTEN:P,fork,reuseaddr,backlog=128
 *   OPEN:FILE,rdonly`, UDP-RECVFROM with shut-null): TCP and SCTP (one-to-one style, RFC 6458
 *   section 3) write FILE's bytes to each connection, then close it, reading nothing; UDP answers
 *   each datagram with one datagram of FILE's bytes to its sender from the socket it came in on,
 *   then an empty datagram (which ends the prober at once, as socat's null-eof). Prints "ready" on
 *   stdout once every socket listens; exits 0 on SIGTERM/SIGINT.
 * probe: one attempt as `socat -T TIMEOUT -u TCP:IP:PORT,connect-timeout=TIMEOUT,sourceport=SPORT,
 *   reuseaddr STDOUT` did (SPORT 0: any): the reply on stdout until the server closes or TIMEOUT s
 *   pass without data; UDP sends TEXT and prints what comes back until an empty datagram. Exit 1
 *   when the connection fails (refused, unreachable, no answer to the handshake within TIMEOUT),
 *   or a read fails (UDP: an ICMP port unreachable); 0 otherwise (with or without a reply).
 * bulk: COUNT such attempts from any source port, one line each on stdout: "I\t0\tREPLY" or
 *   "I\t1\t" — REPLY as the agent's loop wrote it (TCP: each complete line, CRs dropped, followed by
 *   a space; UDP/SCTP: the reply without trailing newlines, CR and LF as spaces; UDP sends
 *   "probe I\n"). Stops with status 124 after COUNT*TIMEOUT+5 s, as `timeout` did.
 * Bad usage: exit 2.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "selfjournal.h"

#define MAXREPLY 65536
#define BACKLOG 128

static const char *lab;

static void usage(void)
{
	fprintf(stderr, "usage: dlpod serve LAB NSPATH PROTO PORT FILE [NSPATH PROTO PORT FILE]...\n"
			"       dlpod probe LAB NSPATH PROTO IP PORT SPORT TIMEOUT TEXT\n"
			"       dlpod bulk  LAB NSPATH PROTO IP PORT COUNT TIMEOUT\n");
	exit(2);
}

static void bad(const char *what, const char *value)
{
	fprintf(stderr, "dlpod: %s: %s\n", what, value);
	exit(2);
}

static long number(const char *s, long lo, long hi, const char *what)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < lo || v > hi) bad(what, s);
	return v;
}

/* tcp, udp or sctp: the socket type and protocol. */
static void protocol(const char *p, int *type, int *proto)
{
	if (!strcmp(p, "tcp")) *type = SOCK_STREAM, *proto = IPPROTO_TCP;
	else if (!strcmp(p, "udp")) *type = SOCK_DGRAM, *proto = IPPROTO_UDP;
	else if (!strcmp(p, "sctp")) *type = SOCK_STREAM, *proto = IPPROTO_SCTP;
	else bad("protocol (tcp, udp or sctp)", p);
}

/* The lab's namespaces only: /run/netns/dl-LAB-NAME, NAME as the agent's is_lab_ns allows. */
static void check_path(const char *path)
{
	static const char dir[] = "/run/netns/dl-";
	size_t ll = strlen(lab);
	const char *name = path + sizeof dir - 1 + ll + 1;
	int ok = !strncmp(path, dir, sizeof dir - 1) && !strncmp(path + sizeof dir - 1, lab, ll) && name[-1] == '-';
	size_t n = ok ? strlen(name) : 0;
	ok = ok && n >= 1 && n <= 63 && name[0] != '.' && name[0] != '-';
	for (size_t i = 0; ok && i < n; i++) {
		char c = name[i];
		ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
	}
	if (!ok) bad("not a namespace of this lab", path);
}

/* Joins the lab namespace at path; refuses the namespace this process started in. */
static void enter(const char *path, int home)
{
	struct stat a, b;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &a) < 0 || fstat(home, &b) < 0) { fprintf(stderr, "dlpod: %s: %s\n", path, strerror(errno)); exit(1); }
	if (a.st_dev == b.st_dev && a.st_ino == b.st_ino) bad("the namespace dlpod runs in, not a lab's", path);
	if (setns(fd, CLONE_NEWNET) < 0) { fprintf(stderr, "dlpod: setns %s: %s\n", path, strerror(errno)); exit(1); }
	close(fd);
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* ---- serve ------------------------------------------------------------------------------ */
struct server { int fd, type; char *reply; size_t len; };
struct conn { int fd; const struct server *s; size_t off; };
static struct conn *conns;
static size_t nconns;
enum { EV_SIGNAL, EV_LISTEN, EV_CONN };
#define EV(kind, i) (((uint64_t)(kind) << 32) | (uint32_t)(i))

static void read_reply(struct server *s, const char *file)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) { fprintf(stderr, "dlpod: %s: %s\n", file, strerror(errno)); exit(1); }
	s->reply = malloc(MAXREPLY);
	ssize_t n;
	s->len = 0;
	while (s->len < MAXREPLY && (n = read(fd, s->reply + s->len, MAXREPLY - s->len)) > 0) s->len += n;
	close(fd);
}

static void open_server(struct server *s, char **spec, int home)
{
	int type, proto, one = 1;
	protocol(spec[1], &type, &proto);
	long port = number(spec[2], 1, 65535, "port");
	read_reply(s, spec[3]);
	enter(spec[0], home);
	s->type = type;
	s->fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY) };
	if (s->fd < 0 || (type == SOCK_STREAM && setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) ||
	    bind(s->fd, (struct sockaddr *)&sin, sizeof sin) < 0 || (type == SOCK_STREAM && listen(s->fd, BACKLOG) < 0)) {
		fprintf(stderr, "dlpod: %s %s port %ld in %s: %s\n", spec[1], type == SOCK_STREAM ? "listen" : "bind", port, spec[0], strerror(errno));
		exit(1);
	}
	if (setns(home, CLONE_NEWNET) < 0) { fprintf(stderr, "dlpod: setns back: %s\n", strerror(errno)); exit(1); }
}

/* Writes what is left of the reply; closes the connection once it is all out (or it failed). */
static void push(int ep, size_t i)
{
	struct conn *c = &conns[i];
	while (c->off < c->s->len) {
		ssize_t n = send(c->fd, c->s->reply + c->off, c->s->len - c->off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR) continue;
		if (n < 0 && errno == EAGAIN) return; /* EPOLLOUT brings us back */
		if (n <= 0) break;
		c->off += n;
	}
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
}

static void accept_all(int ep, const struct server *s)
{
	for (;;) {
		int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED) continue;
			if (errno != EAGAIN) fprintf(stderr, "dlpod: accept: %s\n", strerror(errno));
			return;
		}
		size_t i = 0;
		while (i < nconns && conns[i].fd >= 0) i++;
		if (i == nconns) {
			conns = realloc(conns, ++nconns * sizeof *conns);
			if (!conns) { fprintf(stderr, "dlpod: out of memory\n"); exit(1); }
		}
		conns[i] = (struct conn){ fd, s, 0 };
		struct epoll_event ev = { .events = EPOLLOUT, .data.u64 = EV(EV_CONN, i) };
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
		push(ep, i);
	}
}

static void answer_datagrams(const struct server *s)
{
	static char buf[MAXREPLY];
	for (;;) {
		struct sockaddr_storage peer;
		socklen_t pl = sizeof peer;
		ssize_t n = recvfrom(s->fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&peer, &pl);
		if (n < 0 && errno == EINTR) continue;
		if (n < 0) return;
		sendto(s->fd, s->reply, s->len, MSG_NOSIGNAL, (struct sockaddr *)&peer, pl);
		sendto(s->fd, "", 0, MSG_NOSIGNAL, (struct sockaddr *)&peer, pl);
	}
}

static int serve(int argc, char **argv)
{
	if (argc < 7 || (argc - 3) % 4) usage();
	int n = (argc - 3) / 4;
	for (int i = 0; i < n; i++) check_path(argv[3 + 4 * i]);
	self_journal("dlpod"); /* before any socket: selfjournal.c */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) { rl.rlim_cur = rl.rlim_max; setrlimit(RLIMIT_NOFILE, &rl); }
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	int sfd = signalfd(-1, &sigs, SFD_CLOEXEC), ep = epoll_create1(EPOLL_CLOEXEC);
	int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (sfd < 0 || ep < 0 || home < 0) { fprintf(stderr, "dlpod: signalfd/epoll/namespace: %s\n", strerror(errno)); return 1; }
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV(EV_SIGNAL, 0) };
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	struct server *servers = calloc(n, sizeof *servers);
	for (int i = 0; i < n; i++) {
		open_server(&servers[i], argv + 3 + 4 * i, home);
		ev.data.u64 = EV(EV_LISTEN, i);
		epoll_ctl(ep, EPOLL_CTL_ADD, servers[i].fd, &ev);
	}
	printf("ready\n");
	fflush(stdout);
	struct epoll_event evs[64];
	for (;;) {
		int k = epoll_wait(ep, evs, 64, -1);
		if (k < 0 && errno != EINTR) { fprintf(stderr, "dlpod: epoll_wait: %s\n", strerror(errno)); return 1; }
		for (int i = 0; i < k; i++) {
			uint32_t kind = evs[i].data.u64 >> 32, idx = (uint32_t)evs[i].data.u64;
			if (kind == EV_SIGNAL) return 0; /* the sockets close with the process */
			if (kind == EV_CONN) { if (conns[idx].fd >= 0) push(ep, idx); continue; }
			if (servers[idx].type == SOCK_DGRAM) answer_datagrams(&servers[idx]);
			else accept_all(ep, &servers[idx]);
		}
	}
}

/* ---- probe, bulk -------------------------------------------------------------------------- */
/* One attempt; the reply goes to out (at most cap bytes kept, *len set). Returns 0, 1 when the
 * connection failed, 3 when a read failed after it was made (socat's status is 1 for both). */
static int attempt(int type, int proto, const char *ip, long port, long sport, long to, const char *text, char *out, size_t cap, size_t *len)
{
	int one = 1, ms = (int)to * 1000;
	*len = 0;
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, ip, &dst.sin_addr);
	int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
	if (fd < 0) { fprintf(stderr, "dlpod: socket: %s\n", strerror(errno)); return 1; }
	if (sport) {
		struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = htons(sport) };
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 || bind(fd, (struct sockaddr *)&src, sizeof src) < 0) {
			fprintf(stderr, "dlpod: bind source port %ld: %s\n", sport, strerror(errno));
			close(fd);
			return 1;
		}
	}
	struct pollfd p = { fd, POLLOUT, 0 };
	int err = 0;
	socklen_t el = sizeof err;
	if (connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0) {
		if (errno != EINPROGRESS) err = errno;
		else if (poll(&p, 1, ms) == 0) err = ETIMEDOUT;
		else getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
	}
	if (!err && type == SOCK_DGRAM && send(fd, text, strlen(text), MSG_NOSIGNAL) < 0) err = errno;
	if (err) {
		fprintf(stderr, "dlpod: connect to %s:%ld: %s\n", ip, port, strerror(err));
		close(fd);
		return 1;
	}
	char buf[MAXREPLY];
	p.events = POLLIN;
	for (;;) {
		int r = poll(&p, 1, ms);
		if (r < 0 && errno == EINTR) continue;
		if (r == 0) break; /* TIMEOUT s without data: done, as socat -T */
		ssize_t n = recv(fd, buf, sizeof buf, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
		if (n < 0) { fprintf(stderr, "dlpod: read from %s:%ld: %s\n", ip, port, strerror(errno)); close(fd); return 3; }
		if (n == 0) break; /* closed; UDP: the empty datagram */
		size_t keep = (size_t)n < cap - *len ? (size_t)n : cap - *len;
		memcpy(out + *len, buf, keep);
		*len += keep;
	}
	close(fd);
	return 0;
}

static int probe(int argc, char **argv, int bulk)
{
	if (argc != 10 - bulk) usage();
	int type, proto;
	struct in_addr a;
	protocol(argv[4], &type, &proto);
	if (inet_pton(AF_INET, argv[5], &a) != 1) bad("not an IPv4 address", argv[5]);
	long port = number(argv[6], 1, 65535, "port"), to = number(argv[8], 1, 3600, "timeout");
	check_path(argv[3]);
	int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (home < 0) { fprintf(stderr, "dlpod: /proc/self/ns/net: %s\n", strerror(errno)); return 1; }
	enter(argv[3], home); /* never back: every socket of a probe is the client's */
	static char reply[MAXREPLY];
	size_t len;
	if (!bulk) {
		int rc = attempt(type, proto, argv[5], port, number(argv[7], 0, 65535, "source port"), to, argv[9], reply, sizeof reply, &len);
		fwrite(reply, 1, len, stdout);
		return rc ? 1 : 0;
	}
	long count = number(argv[7], 1, 100000, "count");
	double deadline = now() + count * to + 5;
	for (long i = 1; i <= count; i++) {
		if (now() > deadline) return 124;
		char text[32];
		snprintf(text, sizeof text, "probe %ld\n", i);
		int rc = attempt(type, proto, argv[5], port, 0, to, text, reply, sizeof reply, &len);
		if (type == SOCK_STREAM && proto == IPPROTO_TCP) {
			/* as bash's /dev/tcp and `read -r line` loop: a connection made is status 0 whatever
			 * the read did; complete lines only, CRs dropped, a space after each */
			printf("%ld\t%d\t", i, rc == 1 ? 1 : 0);
			for (size_t s = 0, e; rc != 1 && s < len; s = e + 1) {
				for (e = s; e < len && reply[e] != '\n'; e++) {}
				if (e == len) break;
				for (size_t j = s; j < e; j++) if (reply[j] != '\r') putchar(reply[j]);
				putchar(' ');
			}
			putchar('\n');
			continue;
		}
		while (len && reply[len - 1] == '\n') len--; /* as $(…) */
		if (rc || !len) { printf("%ld\t1\t\n", i); continue; }
		printf("%ld\t0\t", i);
		for (size_t j = 0; j < len; j++) putchar(reply[j] == '\r' || reply[j] == '\n' ? ' ' : reply[j]);
		putchar('\n');
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 4) usage();
	lab = argv[2];
	if (strlen(lab) != 6 || strspn(lab, "0123456789abcdef") != 6) bad("not a lab id (6 hex digits)", lab);
	if (!strcmp(argv[1], "serve")) return serve(argc, argv);
	if (!strcmp(argv[1], "probe")) return probe(argc, argv, 0);
	if (!strcmp(argv[1], "bulk")) return probe(argc, argv, 1);
	usage();
}
