/*
 * dlnet: applies the `ip -batch` files of many lab namespaces from one process, speaking
 * rtnetlink itself — where one `ip -batch` process per namespace costs 60-70 ms of process start
 * inside User-Mode Linux (a dynamic binary and its libraries) and each line only ~2 ms. The agent
 * (lab/runners/agent/build.sh) hands it each run of consecutive ip steps; without it, one
 * `ip -n NS -batch FILE` per step.
 *
 * usage: dlnet LAB ITEM...   with ITEM one of
 *   NSPATH FILE     an `ip -batch` FILE applied in the namespace NSPATH, /run/netns/dl-LAB-<object>
 *                   (setns(2), https://man7.org/linux/man-pages/man2/setns.2.html); a new rtnetlink
 *                   socket is opened there, so every request answers for that namespace, as
 *                   `ip -n NS -batch FILE` would. Nothing is sent before that setns succeeded: never
 *                   in the namespace dlnet started in.
 *   -s NSPATH FILE  a `sysctl -p` FILE applied there (sysctl-file.c, as dlsysctl does)
 *   -n FILE         the lab's namespaces made: FILE's lines are `netns add dl-LAB-<object>` (the
 *                   agent's netns step, journalled by the agent first), each made as iproute2's
 *                   `ip netns add` makes it (netns_add below)
 *   LAB             the lab id (6 hex digits, as the agent's journal has it)
 * The agent hands it the build's first run of netns, sysctl and ip steps — one process where
 * `ip -batch`, dlsysctl and `ip -n … -batch` cost a process start each.
 * Prints one line per item applied or failed, "INDEX<TAB>STATUS<TAB>END" (as dlnsrun does: INDEX
 * from 1, STATUS 0 or 1, END the epoch time in seconds with microseconds). The first line that
 * is not understood or that the kernel refuses stops the run: "FILE:LINE: <line>: <reason>" on
 * stderr (the kernel's extended-ack text with its strerror when it gives one), exit 1. Bad usage
 * or a namespace that is not the lab's: exit 2, nothing applied.
 *
 * The grammar (dlnet-lines.c) is exactly what the lab's compilers emit (lab/plan.ts and the
 * compilers under lab/families/, lab/fabric/, lab/services/), IPv4 only, each line the request
 * iproute2 sends for it (ip/iplink.c, ip/ipaddress.c, ip/iproute.c, ip/iprule.c, ip/ipneigh.c in
 * https://git.kernel.org/pub/scm/network/iproute2/iproute2.git); any other word is an error:
 *   link add [NAME|name NAME] [link DEV] [index N] [address MAC] [netns NS] type KIND [ARGS]
 *     KIND veth peer [NAME|name NAME] [index N] [address MAC] [netns NS]
 *          vlan id VID | ipvlan [mode l2|l3|l3s] [bridge|private|vepa] | dummy | bridge
 *   link set DEV {up | down | name NEW | arp on|off | master DEV}...
 *   address add A[/P] [peer B[/Q]] dev DEV [scope host|link|global]
 *   neigh add|replace A lladdr MAC dev DEV [nud permanent|noarp]
 *   route add|replace default|A[/P] [via GW] [dev DEV] [onlink] [table T] [scope host|link|global]
 *   rule add [from A[/P]] [to A[/P]] [iif DEV] [lookup T] [pref N]
 * Blank lines and lines starting with `#` do nothing; quotes and backslashes are refused. A
 * namespace named by `netns` must be the lab's too (/run/netns/dl-LAB-…, the agent's is_lab_ns).
 * test/kernel/dlnet.test.ts compares the namespaces it builds with ip's for every line shape the
 * catalogue emits. Messages and attributes: rtnetlink(7)
 * https://man7.org/linux/man-pages/man7/rtnetlink.7.html, the uapi headers linux/rtnetlink.h,
 * if_link.h, veth.h, fib_rules.h, neighbour.h (https://github.com/torvalds/linux/tree/master/include/uapi/linux),
 * extended acks in https://docs.kernel.org/userspace-api/netlink/intro.html.
 */
#define _GNU_SOURCE
#include "dlnet.h"
#include "sysctl-file.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

const char *lab;

/* A lab namespace name: dl-LAB-<object> (nlmsg.c lab_ns_name). */
int is_lab_ns(const char *name) { return lab_ns_name(lab, name); }

/* Enters the namespace at PATH and opens rtnetlink there (nlmsg.c). */
static int enter(const char *path) { return nl_enter(path, NETLINK_ROUTE); }

/* Applies FILE line by line in the current namespace; 0, or -1 after printing where it stopped. */
static int apply_file(const char *file)
{
	FILE *f = fopen(file, "re");
	if (!f) { fprintf(stderr, "%s: %s\n", file, strerror(errno)); return -1; }
	char *line = NULL, *copy = NULL;
	size_t cap = 0;
	int no = 0, rc = 0;
	while (getline(&line, &cap, f) >= 0) {
		no++;
		line[strcspn(line, "\r\n")] = 0;
		free(copy);
		copy = strdup(line);
		if (!copy || apply_line(line) < 0) {
			fprintf(stderr, "%s:%d: %s: %s\n", file, no, copy ? copy : "", copy ? why : strerror(ENOMEM));
			rc = -1;
			break;
		}
	}
	if (!rc && ferror(f)) { fprintf(stderr, "%s: %s\n", file, strerror(errno)); rc = -1; }
	free(line);
	free(copy);
	fclose(f);
	return rc;
}

/* iproute2's `ip netns add NAME` (ip/ipnetns.c netns_add, create): /run/netns made a shared
 * mount point once, so that a namespace's bind mount propagates between mount namespaces; the
 * name's file created (O_EXCL: never an existing one); a new network namespace by unshare(2) of
 * this task, bind-mounted onto the file; then back to the namespace this task was in.
 * https://git.kernel.org/pub/scm/network/iproute2/iproute2.git/tree/ip/ipnetns.c */
static int shared_run_dir;
static int netns_add(const char *name, int home)
{
	char path[320];
	if (!is_lab_ns(name)) return fail("%s is not a namespace of lab %s (dl-%s-…)", name, lab, lab);
	snprintf(path, sizeof path, "/run/netns/%s", name);
	if (!shared_run_dir) {
		if (mkdir("/run/netns", 0755) < 0 && errno != EEXIST) return fail("mkdir /run/netns: %s", strerror(errno));
		int made = 0;
		while (mount("", "/run/netns", "none", MS_SHARED | MS_REC, NULL) < 0) {
			if (errno != EINVAL || made) return fail("mount --make-shared /run/netns: %s", strerror(errno));
			if (mount("/run/netns", "/run/netns", "none", MS_BIND | MS_REC, NULL) < 0) return fail("mount --bind /run/netns: %s", strerror(errno));
			made = 1;
		}
		shared_run_dir = 1;
	}
	int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	if (fd < 0) return fail("cannot create namespace file \"%s\": %s", path, strerror(errno));
	close(fd);
	int rc = 0;
	if (unshare(CLONE_NEWNET) < 0) rc = fail("cannot create the network namespace %s: %s", name, strerror(errno));
	else if (mount("/proc/self/ns/net", path, "none", MS_BIND, NULL) < 0) rc = fail("bind /proc/self/ns/net -> %s: %s", path, strerror(errno));
	if (rc < 0) unlink(path);
	/* Back home whatever happened: nothing more may run in the new namespace. */
	if (setns(home, CLONE_NEWNET) < 0) { fprintf(stderr, "dlnet: cannot return to its namespace: %s\n", strerror(errno)); exit(1); }
	return rc;
}

/* The -n FILE item: every `netns add NAME` line; anything else stops it (FILE:LINE). */
static int netns_file(const char *file, int home)
{
	FILE *f = fopen(file, "re");
	if (!f) return fail("%s: %s", file, strerror(errno));
	char line[512], w1[16], w2[16], name[300], extra[8];
	int no = 0, rc = 0;
	while (!rc && fgets(line, sizeof line, f)) {
		no++;
		int n = sscanf(line, "%15s %15s %299s %7s", w1, w2, name, extra);
		if (n <= 0) continue;
		if (n != 3 || strcmp(w1, "netns") || strcmp(w2, "add")) rc = fail("%s:%d: not \"netns add dl-%s-…\": %s", file, no, lab, line);
		else if (netns_add(name, home) < 0) {
			char msg[512];
			snprintf(msg, sizeof msg, "%s", why);
			rc = fail("%s:%d: %s", file, no, msg);
		}
	}
	fclose(f);
	return rc;
}

static int lab_path(const char *p)
{
	if (!strncmp(p, "/run/netns/", 11) && is_lab_ns(p + 11)) return 1;
	fprintf(stderr, "dlnet: %s is not a namespace of lab %s (/run/netns/dl-%s-…)\n", p, lab, lab);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 4) { fprintf(stderr, "usage: dlnet LAB {NSPATH FILE | -s NSPATH FILE | -n FILE}...\n"); return 2; }
	lab = argv[1];
	if (strlen(lab) != 6 || strspn(lab, "0123456789abcdef") != 6) { fprintf(stderr, "dlnet: lab id \"%s\" is not 6 hex digits\n", lab); return 2; }
	/* Checked in full before anything is applied: a malformed list or a namespace that is not the
	 * lab's applies nothing. */
	for (int i = 2; i < argc;) {
		int w = !strcmp(argv[i], "-s") ? 3 : 2;
		if (i + w > argc) { fprintf(stderr, "dlnet: item at word %d is incomplete\n", i); return 2; }
		if (strcmp(argv[i], "-n") && !lab_path(argv[i + w - 2])) return 2;
		i += w;
	}
	int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (home < 0) { fprintf(stderr, "dlnet: /proc/self/ns/net: %s\n", strerror(errno)); return 1; }
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 2, index = 1; i < argc; index++) {
		int bad = 0;
		if (!strcmp(argv[i], "-n")) {
			if (netns_file(argv[i + 1], home) < 0) { fprintf(stderr, "dlnet: %s\n", why); bad = 1; }
			i += 2;
		} else {
			int sys = !strcmp(argv[i], "-s");
			const char *ns = argv[i + sys], *file = argv[i + sys + 1];
			if (enter(ns) < 0) { fprintf(stderr, "dlnet: %s\n", why); bad = 1; }
			else if (sys) {
				char who[300];
				snprintf(who, sizeof who, "dlnet: %s", ns);
				bad = sysctl_apply_file(who, file);
			} else if (apply_file(file) < 0) bad = 1;
			i += 2 + sys;
		}
		struct timeval tv;
		gettimeofday(&tv, NULL);
		printf("%d\t%d\t%ld.%06ld\n", index, bad, (long)tv.tv_sec, (long)tv.tv_usec);
		if (bad) return 1;
	}
	return 0;
}
