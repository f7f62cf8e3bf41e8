/*
 * dlcap: one capture process for a whole lab. It enters each lab namespace in turn, opens one
 * AF_PACKET socket there (ETH_P_ALL, bound to no interface, so links created later are captured
 * too), returns to its own namespace and writes every packet of every namespace to ONE pcapng
 * stream: an Interface Description Block per (namespace, ifindex), named "<label>:<ifname>",
 * and Enhanced Packet Blocks with the direction in epb_flags.
 * The model is containerlab's `capture` (https://containerlab.dev/manual/wireshark/): nothing
 * runs inside the nodes, one process serves them all.
 *
 * usage: dlcap OUT.pcapng FILTER LABEL=NSPATH...
 *   FILTER   a tcpdump/libpcap filter expression ("" = everything), compiled here for Ethernet
 *            with libpcap (pcap_open_dead + pcap_compile) and attached to every socket as classic BPF
 *   LABEL    the name written before ':' in the interface names (the lab object)
 *   NSPATH   a network namespace file, e.g. /run/netns/dl-1a2b3c-ecs1
 * Prints "ready" on stdout once every socket is open; on SIGINT/SIGTERM it reads what the
 * sockets still hold (until they stay quiet for 30 ms, at most 1 s), flushes, prints "done" once
 * the stream is complete on disk, and exits 0. The agent waits for "done", not for the exit: the
 * kernel closes the packet sockets at exit one after the other, and each close waits for an RCU
 * grace period (net/packet/af_packet.c packet_release: synchronize_net()) — ~180 ms for a lab of
 * 15 namespaces on the host, all of it after the capture is whole.
 *
 * Formats: pcapng https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html (SHB, IDB
 * with if_name and if_tsresol=9, EPB with epb_flags); packet(7) for sockaddr_ll, PACKET_AUXDATA
 * (the VLAN tag the kernel took out of the frame is put back, as libpcap does) and SO_TIMESTAMPNS.
 * Interfaces without an Ethernet header (ARPHRD other than ETHER/LOOPBACK) are written as
 * LINKTYPE_RAW; the filter is compiled for Ethernet, so such frames only match an empty filter.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <pcap/pcap.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "selfjournal.h"

#define SNAP 262144
#define LINKTYPE_ETHERNET 1
#define LINKTYPE_RAW 101

struct space { const char *label; int sock; };
struct iface { int space, ifindex, linktype; };

static struct space *spaces;
static int nspaces;
static struct iface *ifaces;
static int nifaces, capifaces;
static FILE *out;

static void die(const char *what)
{
	fprintf(stderr, "dlcap: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void put32(uint32_t v) { fwrite(&v, 4, 1, out); }
static void put16(uint16_t v) { fwrite(&v, 2, 1, out); }
static void pad(size_t n) { static const char z[4]; fwrite(z, 1, (4 - n % 4) % 4, out); }
static size_t padded(size_t n) { return (n + 3) & ~(size_t)3; }

static void write_shb(void)
{
	static const char app[] = "datapath-lab dlcap";
	uint32_t len = 28 + 4 + padded(sizeof app - 1) + 4;
	put32(0x0A0D0D0A); put32(len); put32(0x1A2B3C4D); put16(1); put16(0);
	put32(0xFFFFFFFF); put32(0xFFFFFFFF); /* section length: unknown */
	put16(4); put16(sizeof app - 1); fwrite(app, 1, sizeof app - 1, out); pad(sizeof app - 1); /* shb_userappl */
	put32(0); put32(len);
}

static void write_idb(const char *name, int linktype)
{
	size_t n = strlen(name);
	uint32_t len = 16 + 4 + padded(n) + 4 + 4 + 4 + 4;
	put32(1); put32(len); put16(linktype); put16(0); put32(SNAP);
	put16(2); put16(n); fwrite(name, 1, n, out); pad(n); /* if_name */
	put16(9); put16(1); fputc(9, out); pad(1);           /* if_tsresol: nanoseconds */
	put32(0); put32(len);
}

/* The pcapng interface id of (space, ifindex): written (IDB) the first time it is seen. */
static int iface_id(int s, int ifindex, unsigned short hatype)
{
	for (int i = 0; i < nifaces; i++)
		if (ifaces[i].space == s && ifaces[i].ifindex == ifindex) return i;
	if (nifaces == capifaces) {
		capifaces = capifaces ? capifaces * 2 : 64;
		ifaces = realloc(ifaces, capifaces * sizeof *ifaces);
		if (!ifaces) die("realloc");
	}
	struct ifreq ifr = { .ifr_ifindex = ifindex };
	char name[IFNAMSIZ + 256];
	/* The packet socket lives in the namespace: SIOCGIFNAME on it resolves names there. */
	if (ioctl(spaces[s].sock, SIOCGIFNAME, &ifr) == 0)
		snprintf(name, sizeof name, "%s:%s", spaces[s].label, ifr.ifr_name);
	else
		snprintf(name, sizeof name, "%s:ifindex%d", spaces[s].label, ifindex);
	int lt = (hatype == ARPHRD_ETHER || hatype == ARPHRD_LOOPBACK) ? LINKTYPE_ETHERNET : LINKTYPE_RAW;
	ifaces[nifaces] = (struct iface){ s, ifindex, lt };
	write_idb(name, lt);
	return nifaces++;
}

static uint32_t epb_flags(unsigned char pkttype)
{
	switch (pkttype) { /* bits 0-1 direction (1 in, 2 out), bits 2-4 reception type */
	case PACKET_OUTGOING: return 2;
	case PACKET_BROADCAST: return 1 | 3 << 2;
	case PACKET_MULTICAST: return 1 | 2 << 2;
	case PACKET_OTHERHOST: return 1 | 4 << 2;
	default: return 1 | 1 << 2;
	}
}

/* Reads every packet queued on one socket; returns how many. */
static int drain(int s)
{
	static unsigned char buf[SNAP + 4];
	union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(struct tpacket_auxdata)) + CMSG_SPACE(sizeof(struct timespec))]; } ctl;
	int count = 0;
	for (;;) {
		struct sockaddr_ll sll;
		struct iovec iov = { buf + 4, SNAP };
		struct msghdr m = { .msg_name = &sll, .msg_namelen = sizeof sll, .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl, .msg_controllen = sizeof ctl };
		ssize_t n = recvmsg(spaces[s].sock, &m, MSG_TRUNC | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR) continue;
			if (errno == EAGAIN || errno == ENETDOWN) return count;
			die("recvmsg");
		}
		struct timespec ts = { 0, 0 };
		struct tpacket_auxdata *aux = NULL;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) memcpy(&ts, CMSG_DATA(c), sizeof ts);
			if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA) aux = (struct tpacket_auxdata *)CMSG_DATA(c);
		}
		if (!ts.tv_sec) clock_gettime(CLOCK_REALTIME, &ts);
		int id = iface_id(s, sll.sll_ifindex, sll.sll_hatype);
		unsigned char *data = buf + 4;
		uint32_t orig = (uint32_t)n, cap = (uint32_t)(n > SNAP ? SNAP : n);
		if (aux && ifaces[id].linktype == LINKTYPE_ETHERNET && cap >= 12 &&
		    (aux->tp_vlan_tci || (aux->tp_status & TP_STATUS_VLAN_VALID))) {
			/* Put the 802.1Q tag back between the MAC addresses and the EtherType. */
			uint16_t tpid = htons((aux->tp_status & TP_STATUS_VLAN_TPID_VALID) ? aux->tp_vlan_tpid : ETH_P_8021Q);
			uint16_t tci = htons(aux->tp_vlan_tci);
			memmove(buf, buf + 4, 12);
			memcpy(buf + 12, &tpid, 2);
			memcpy(buf + 14, &tci, 2);
			data = buf;
			cap += 4;
			orig += 4;
		}
		uint64_t t = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
		uint32_t len = 28 + padded(cap) + 12 + 4;
		put32(6); put32(len); put32(id); put32(t >> 32); put32((uint32_t)t); put32(cap); put32(orig);
		fwrite(data, 1, cap, out); pad(cap);
		put16(2); put16(4); put32(epb_flags(sll.sll_pkttype)); put32(0); /* epb_flags, end of options */
		put32(len);
		count++;
	}
}

static int open_socket(const char *path, const struct sock_fprog *filter, int home)
{
	int nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0) die(path);
	if (setns(nsfd, CLONE_NEWNET) < 0) die("setns");
	close(nsfd);
	/* Protocol 0 until the filter is attached, so nothing unfiltered is queued before it. */
	int s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0) die("socket(AF_PACKET)");
	int one = 1, rcv = 8 << 20;
	if (filter->len && setsockopt(s, SOL_SOCKET, SO_ATTACH_FILTER, filter, sizeof *filter) < 0) die("SO_ATTACH_FILTER");
	if (setsockopt(s, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one) < 0) die("PACKET_AUXDATA");
	if (setsockopt(s, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) < 0) die("SO_TIMESTAMPNS");
	if (setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof rcv) < 0) setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = 0 };
	if (bind(s, (struct sockaddr *)&sll, sizeof sll) < 0) die("bind");
	if (setns(home, CLONE_NEWNET) < 0) die("setns (back)");
	return s;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: dlcap OUT.pcapng FILTER LABEL=NSPATH...\n");
		return 2;
	}
	struct bpf_program prog = { 0, NULL };
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, SNAP);
	if (argv[2][0] && (!dead || pcap_compile(dead, &prog, argv[2], 1, PCAP_NETMASK_UNKNOWN) < 0)) {
		fprintf(stderr, "dlcap: cannot compile filter \"%s\": %s\n", argv[2], dead ? pcap_geterr(dead) : "pcap_open_dead failed");
		return 2;
	}
	struct sock_fprog filter = { (unsigned short)prog.bf_len, (struct sock_filter *)prog.bf_insns };
	self_journal("dlcap"); /* before any socket: selfjournal.c */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) { rl.rlim_cur = rl.rlim_max; setrlimit(RLIMIT_NOFILE, &rl); }

	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	int sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || ep < 0) die("signalfd/epoll");
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = UINT32_MAX };
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);

	out = fopen(argv[1], "w");
	if (!out) die(argv[1]);
	setvbuf(out, NULL, _IOFBF, 1 << 20);
	write_shb();

	int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (home < 0) die("/proc/self/ns/net");
	nspaces = argc - 3;
	spaces = calloc(nspaces, sizeof *spaces);
	for (int i = 0; i < nspaces; i++) {
		char *arg = argv[i + 3], *eq = strchr(arg, '=');
		if (!eq) { fprintf(stderr, "dlcap: %s: want LABEL=NSPATH\n", arg); return 2; }
		*eq = 0;
		spaces[i].label = arg;
		spaces[i].sock = open_socket(eq + 1, &filter, home);
		ev.data.u32 = i;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, spaces[i].sock, &ev) < 0) die("epoll_ctl");
	}
	fflush(out);
	printf("ready\n");
	fflush(stdout);

	struct epoll_event evs[64];
	for (int stop = 0; !stop;) {
		int n = epoll_wait(ep, evs, 64, -1);
		if (n < 0 && errno != EINTR) die("epoll_wait");
		for (int i = 0; i < n; i++) {
			if (evs[i].data.u32 == UINT32_MAX) {
				struct signalfd_siginfo si;
				if (read(sfd, &si, sizeof si) > 0) stop = 1;
			} else drain(evs[i].data.u32);
		}
		fflush(out);
	}
	/* Stopping: what is still queued (or in flight between namespaces) until 30 ms of quiet. */
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int got = 0;
		for (int i = 0; i < nspaces; i++) got += drain(i);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > 1000) break;
		if (!got && epoll_wait(ep, evs, 64, 30) <= 0) break;
	}
	if (fclose(out) != 0) die("write");
	printf("done\n");
	fflush(stdout);
	return 0;
}
