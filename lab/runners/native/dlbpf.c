/*
 * dlbpf: the tc eBPF load balancer's whole set-up (serviceProxy ebpf: bpf/lb4.c in every pod) and
 * its map dumps, each from one process — where the agent otherwise starts one bpftool per pod, one
 * nsenter + tc per pod, one bpftool for the map batch, and three `bpftool -j map dump` per node,
 * each 120-180 ms of process start inside User-Mode Linux. Linked with libbpf
 * (https://libbpf.readthedocs.io/en/latest/api.html), the library bpftool itself loads with.
 *
 * usage: dlbpf setup LAB JOB FIRST ARGC ARG... [ARGC ARG...]
 *   Each ARGC ARG... group is one manifest step (manifest.tsv line FIRST, FIRST+1, …, the job's
 *   @JOB@ already replaced by JOB), exactly as lab/services/ebpf-lb.ts emits them and the agent
 *   would run them one process each (lab/runners/agent/build.sh run_step / host_step):
 *     host mkdir -p DIR...
 *     host bpftool prog loadall OBJ PIN type classifier [map name NAME pinned PATH]... pinmaps DIR
 *     nsenter NS tc -batch FILE      FILE lines: qdisc replace dev DEV clsact
 *                                                 filter replace dev DEV egress|ingress prio N handle N bpf da pinned PATH
 *     host bpftool batch file FILE   FILE lines: map update pinned PATH key hex XX... value hex XX... [any|exist|noexist]
 *                                                 map pin pinned PATH NEWPATH
 *   Every pin path must be under the lab's bpffs folder /sys/fs/bpf/dl-LAB (no ".."), every
 *   namespace the lab's (dl-LAB-…), every FILE in JOB. All steps and files are checked before
 *   anything is made: anything else is refused with FILE:LINE on stderr, exit 2. The agent
 *   journals the lab's bpffs folder before it starts dlbpf. Prints "INDEX<TAB>STATUS<TAB>END" per
 *   step (as dlnet does); the first step the kernel refuses stops the run (exit 1).
 *   What each step does is what bpftool v7.1 and tc do for it: `prog loadall` opens the object,
 *   sets every program's type, reuses the named maps' pinned fds (bpf_map__reuse_fd), loads,
 *   pins the programs under PIN and every map under the pinmaps DIR (bpf_object__pin_programs,
 *   bpf_object__pin_maps: the same names, the same order); tc's `bpf da pinned` becomes
 *   bpf_tc_attach of the pinned program (direct-action, protocol all, same prio and handle,
 *   BPF_TC_F_REPLACE) in the pod's namespace (setns(2) to /run/netns/NS, then back).
 *
 * usage: dlbpf dump LAB DIR FILE [DIR FILE ...]   (dlbpf-dump.c)
 *   Writes FILE as the agent's `bpf` dump does (lab/runners/agent/probe.sh): for lb4_services_v2,
 *   lb4_backends and lb4_reverse_nat pinned in DIR a "# MAP" line, then the map as
 *   `bpftool -j map dump pinned DIR/MAP` prints it (a JSON array of {"key":["0x..",…],"value":[…]},
 *   in the kernel's iteration order; without bpftool's BTF "formatted", which the host never
 *   reads: lab/services/ebpf/maps/bpftool.ts), then an empty line. A map that cannot be read gets
 *   bpftool's {"error":"…"} instead. DIR outside the lab: exit 2, nothing written.
 */
#define _GNU_SOURCE
#include "dlbpf.h"
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define MAXTOK 160
static const char *lab, *job;
char root[64];          /* /sys/fs/bpf/dl-LAB */
static char why[600];   /* the reason of the last failure */
static int refused;     /* the last failure is bad input (exit 2), not the kernel's refusal */
static int home = -1;   /* the namespace dlbpf started in */

static int fail(int bad_input, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	refused = bad_input;
	return -1;
}
#define REFUSE(...) fail(1, __VA_ARGS__)
#define KERNEL(...) fail(0, __VA_ARGS__)

int is_lab_pin(const char *p)
{
	size_t n = strlen(root);
	return (!strcmp(p, root) || (!strncmp(p, root, n) && p[n] == '/')) && !strstr(p, "..");
}
static int is_job_file(const char *p)
{
	size_t n = strlen(job);
	return !strncmp(p, job, n) && p[n] == '/' && !strstr(p, "..");
}
/* dl-LAB-<object>, the agent's is_lab_ns ([A-Za-z0-9_][A-Za-z0-9_.-]{0,62}). */
static int is_lab_ns(const char *name)
{
	size_t n;
	if (strncmp(name, "dl-", 3) || strncmp(name + 3, lab, 6) || name[9] != '-') return 0;
	name += 10;
	n = strlen(name);
	if (n < 1 || n > 63 || name[0] == '.' || name[0] == '-') return 0;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}
static int is_num(const char *s) { return *s && strlen(s) <= 5 && strspn(s, "0123456789") == strlen(s); }

/* Splits LINE on blanks into T (at most MAXTOK); quotes and backslashes are refused. */
static int split(char *line, char **t)
{
	int n = 0;
	if (strpbrk(line, "\"'\\")) return REFUSE("quotes and backslashes are not allowed");
	for (char *s = strtok(line, " \t"); s; s = strtok(NULL, " \t")) {
		if (n == MAXTOK) return REFUSE("more than %d words", MAXTOK);
		t[n++] = s;
	}
	return n;
}

/* --- one line of a file: check (apply 0) or do (apply 1) ------------------------------------ */
static int ifindex_of(const char *dev)
{
	unsigned idx = if_nametoindex(dev);
	if (!idx) return KERNEL("no device %s in the namespace: %s", dev, strerror(errno));
	return (int)idx;
}

/* qdisc replace dev DEV clsact | filter replace dev DEV egress|ingress prio N handle N bpf da pinned PATH */
static int tc_line(char **t, int n, int apply)
{
	if (n == 5 && !strcmp(t[0], "qdisc") && !strcmp(t[1], "replace") && !strcmp(t[2], "dev") && !strcmp(t[4], "clsact")) {
		if (!apply) return 0;
		int idx = ifindex_of(t[3]);
		if (idx < 0) return -1;
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = idx, .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
		int err = bpf_tc_hook_create(&hook);
		/* EEXIST: the device has its clsact already, what `replace` leaves in place too. */
		if (err && err != -EEXIST) return KERNEL("clsact on %s: %s", t[3], strerror(-err));
		return 0;
	}
	if (n == 13 && !strcmp(t[0], "filter") && !strcmp(t[1], "replace") && !strcmp(t[2], "dev") &&
	    (!strcmp(t[4], "egress") || !strcmp(t[4], "ingress")) && !strcmp(t[5], "prio") && is_num(t[6]) &&
	    !strcmp(t[7], "handle") && is_num(t[8]) && !strcmp(t[9], "bpf") && !strcmp(t[10], "da") && !strcmp(t[11], "pinned")) {
		if (!is_lab_pin(t[12])) return REFUSE("pinned %s is outside the lab's bpffs folder %s", t[12], root);
		if (!apply) return 0;
		int idx = ifindex_of(t[3]);
		if (idx < 0) return -1;
		int fd = bpf_obj_get(t[12]);
		if (fd < 0) return KERNEL("%s: %s", t[12], strerror(errno));
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = idx, .attach_point = t[4][0] == 'e' ? BPF_TC_EGRESS : BPF_TC_INGRESS);
		LIBBPF_OPTS(bpf_tc_opts, o, .prog_fd = fd, .handle = (__u32)atoi(t[8]), .priority = (__u32)atoi(t[6]), .flags = BPF_TC_F_REPLACE);
		int err = bpf_tc_attach(&hook, &o);
		close(fd);
		if (err) return KERNEL("%s filter on %s: %s", t[4], t[3], strerror(-err));
		return 0;
	}
	return REFUSE("not a line dlbpf applies (qdisc replace dev DEV clsact | filter replace dev DEV egress|ingress prio N handle N bpf da pinned PATH)");
}

/* hex XX... up to the next word that is not a byte, into OUT; returns the count. */
static int hex_bytes(char **t, int n, int *i, unsigned char *out, int cap, const char *what)
{
	int c = 0;
	if (*i >= n || strcmp(t[*i], "hex")) return REFUSE("%s: want \"hex\" and bytes", what);
	for ((*i)++; *i < n && strlen(t[*i]) <= 2 && strspn(t[*i], "0123456789abcdefABCDEF") == strlen(t[*i]); (*i)++) {
		if (c == cap) return REFUSE("%s: more than %d bytes", what, cap);
		out[c++] = (unsigned char)strtoul(t[*i], NULL, 16);
	}
	if (!c) return REFUSE("%s: no bytes", what);
	return c;
}

/* map update pinned PATH key hex .. value hex .. [any|exist|noexist] | map pin pinned PATH NEWPATH */
static int map_line(char **t, int n, int apply)
{
	if (n == 5 && !strcmp(t[0], "map") && !strcmp(t[1], "pin") && !strcmp(t[2], "pinned")) {
		if (!is_lab_pin(t[3]) || !is_lab_pin(t[4])) return REFUSE("a pin outside the lab's bpffs folder %s", root);
		if (!apply) return 0;
		int fd = bpf_obj_get(t[3]);
		if (fd < 0) return KERNEL("%s: %s", t[3], strerror(errno));
		int err = bpf_obj_pin(fd, t[4]);
		int e = errno;
		close(fd);
		return err ? KERNEL("pin %s: %s", t[4], strerror(e)) : 0;
	}
	if (n >= 8 && !strcmp(t[0], "map") && !strcmp(t[1], "update") && !strcmp(t[2], "pinned") && !strcmp(t[4], "key")) {
		unsigned char key[128], val[128];
		int i = 5, kn, vn;
		__u64 flags = BPF_ANY;
		if (!is_lab_pin(t[3])) return REFUSE("pinned %s is outside the lab's bpffs folder %s", t[3], root);
		if ((kn = hex_bytes(t, n, &i, key, sizeof key, "key")) < 0) return -1;
		if (i >= n || strcmp(t[i++], "value")) return REFUSE("want \"value\" after the key");
		if ((vn = hex_bytes(t, n, &i, val, sizeof val, "value")) < 0) return -1;
		if (i < n) {
			if (!strcmp(t[i], "any")) flags = BPF_ANY;
			else if (!strcmp(t[i], "exist")) flags = BPF_EXIST;
			else if (!strcmp(t[i], "noexist")) flags = BPF_NOEXIST;
			else return REFUSE("unexpected word %s", t[i]);
			if (++i < n) return REFUSE("unexpected word %s", t[i]);
		}
		if (!apply) return 0;
		int fd = bpf_obj_get(t[3]);
		if (fd < 0) return KERNEL("%s: %s", t[3], strerror(errno));
		struct bpf_map_info info = {0};
		__u32 len = sizeof info;
		int err = bpf_obj_get_info_by_fd(fd, &info, &len);
		if (!err && (info.key_size != (__u32)kn || info.value_size != (__u32)vn))
			err = KERNEL("%s: key %d and value %d bytes, the map has %u and %u", t[3], kn, vn, info.key_size, info.value_size);
		else if (!err && bpf_map_update_elem(fd, key, val, flags))
			err = KERNEL("update %s: %s", t[3], strerror(errno));
		else if (err) err = KERNEL("%s: %s", t[3], strerror(errno));
		close(fd);
		return err ? -1 : 0;
	}
	return REFUSE("not a line dlbpf applies (map update pinned PATH key hex .. value hex .. [any|exist|noexist] | map pin pinned PATH NEWPATH)");
}

/* Every line of FILE through LINE_FN; "FILE:LINE: text: reason" on stderr at the first failure. */
static int each_line(const char *file, int (*line_fn)(char **, int, int), int apply)
{
	FILE *f = fopen(file, "re");
	if (!f) { fprintf(stderr, "dlbpf: %s: %s\n", file, strerror(errno)); refused = 1; return -1; }
	char *line = NULL, *copy = NULL, *t[MAXTOK];
	size_t cap = 0;
	int no = 0, rc = 0, n;
	while (getline(&line, &cap, f) >= 0) {
		no++;
		line[strcspn(line, "\r\n")] = 0;
		free(copy);
		if (!(copy = strdup(line))) { rc = KERNEL("out of memory"); break; }
		if ((n = split(line, t)) < 0 || (n > 0 && t[0][0] != '#' && line_fn(t, n, apply) < 0)) {
			fprintf(stderr, "dlbpf: %s:%d: %s: %s\n", file, no, copy, why);
			rc = -1;
			break;
		}
	}
	free(line);
	free(copy);
	fclose(f);
	return rc;
}

/* --- steps ------------------------------------------------------------------------------------ */
/* mkdir -p under the lab's folder: each missing component, as mkdir(1) (mode 0777 less umask). */
static int mkdir_p(const char *dir)
{
	char p[512];
	if (strlen(dir) >= sizeof p) return REFUSE("path too long");
	strcpy(p, dir);
	for (char *s = p + strlen("/sys/fs/bpf/"); ; s++) {
		if (*s && *s != '/') continue;
		char c = *s;
		*s = 0;
		if (mkdir(p, 0777) && errno != EEXIST) return KERNEL("mkdir %s: %s", p, strerror(errno));
		if (!(*s = c)) return 0;
	}
}

static int load(char **a, int n, int apply)
{
	/* bpftool prog loadall OBJ PIN type classifier [map name NAME pinned PATH]... pinmaps DIR */
	if (n < 9 || strcmp(a[2], "loadall") || strcmp(a[5], "type") || strcmp(a[6], "classifier") ||
	    strcmp(a[n - 2], "pinmaps") || (n - 9) % 5)
		return REFUSE("want bpftool prog loadall OBJ PIN type classifier [map name NAME pinned PATH]... pinmaps DIR");
	if (!is_lab_pin(a[4]) || !is_lab_pin(a[n - 1])) return REFUSE("pins outside the lab's bpffs folder %s", root);
	for (int i = 7; i < n - 2; i += 5) {
		if (strcmp(a[i], "map") || strcmp(a[i + 1], "name") || strcmp(a[i + 3], "pinned"))
			return REFUSE("want map name NAME pinned PATH, not %s %s", a[i], a[i + 1]);
		if (!is_lab_pin(a[i + 4])) return REFUSE("map %s pinned %s is outside the lab's bpffs folder %s", a[i + 2], a[i + 4], root);
	}
	if (!apply) return 0;
	struct bpf_object *obj = bpf_object__open_file(a[3], NULL);
	if (!obj) return KERNEL("open %s: %s", a[3], strerror(errno));
	struct bpf_program *prog;
	int rc = 0, err;
	bpf_object__for_each_program(prog, obj) {
		bpf_program__set_type(prog, BPF_PROG_TYPE_SCHED_CLS);   /* `type classifier` */
		bpf_program__set_expected_attach_type(prog, 0);
	}
	int fds[MAXTOK / 5], nfd = 0;
	for (int i = 7; i < n - 2 && !rc; i += 5) {
		struct bpf_map *map = bpf_object__find_map_by_name(obj, a[i + 2]);
		int fd = bpf_obj_get(a[i + 4]);
		if (fd >= 0) fds[nfd++] = fd;
		if (!map) rc = KERNEL("%s has no map %s", a[3], a[i + 2]);
		else if (fd < 0) rc = KERNEL("%s: %s", a[i + 4], strerror(errno));
		else if ((err = bpf_map__reuse_fd(map, fd))) rc = KERNEL("reuse %s: %s", a[i + 4], strerror(-err));
	}
	if (!rc && (err = bpf_object__load(obj))) rc = KERNEL("load %s: %s", a[3], strerror(-err));
	if (!rc && (err = bpf_object__pin_programs(obj, a[4]))) rc = KERNEL("pin the programs in %s: %s", a[4], strerror(-err));
	if (!rc && (err = bpf_object__pin_maps(obj, a[n - 1]))) {
		bpf_object__unpin_programs(obj, a[4]);   /* as bpftool does when the maps cannot be pinned */
		rc = KERNEL("pin the maps in %s: %s", a[n - 1], strerror(-err));
	}
	bpf_object__close(obj);
	while (nfd) close(fds[--nfd]);
	return rc;
}

static int tc_step(const char *ns, const char *file, int apply)
{
	char path[128];
	if (!is_lab_ns(ns)) return REFUSE("%s is not a namespace of lab %s", ns, lab);
	if (!is_job_file(file)) return REFUSE("tc batch %s is not in the job folder", file);
	if (!apply) return each_line(file, tc_line, 0) < 0 ? -2 : 0;
	snprintf(path, sizeof path, "/run/netns/%s", ns);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET)) {
		int e = errno;
		if (fd >= 0) close(fd);
		return KERNEL("%s: %s", path, strerror(e));
	}
	close(fd);
	int rc = each_line(file, tc_line, 1);
	if (setns(home, CLONE_NEWNET)) { fprintf(stderr, "dlbpf: back to the first namespace: %s\n", strerror(errno)); exit(1); }
	return rc < 0 ? -2 : 0;   /* -2: each_line printed where */
}

/* One manifest step (its words A[0..N-1]): check it (apply 0) or run it. -2: already printed. */
static int step(char **a, int n, int apply)
{
	if (n >= 4 && !strcmp(a[0], "host") && !strcmp(a[1], "mkdir") && !strcmp(a[2], "-p")) {
		for (int i = 3; i < n; i++)
			if (!is_lab_pin(a[i])) return REFUSE("mkdir %s is outside the lab's bpffs folder %s", a[i], root);
		for (int i = 3; apply && i < n; i++)
			if (mkdir_p(a[i]) < 0) return -1;
		return 0;
	}
	if (n >= 3 && !strcmp(a[0], "host") && !strcmp(a[1], "bpftool") && !strcmp(a[2], "prog")) return load(a + 1, n - 1, apply);
	if (n == 5 && !strcmp(a[0], "host") && !strcmp(a[1], "bpftool") && !strcmp(a[2], "batch") && !strcmp(a[3], "file")) {
		if (!is_job_file(a[4])) return REFUSE("map batch %s is not in the job folder", a[4]);
		return each_line(a[4], map_line, apply) < 0 ? -2 : 0;
	}
	if (n == 5 && !strcmp(a[0], "nsenter") && !strcmp(a[2], "tc") && !strcmp(a[3], "-batch")) {
		int rc = tc_step(a[1], a[4], apply);
		return rc == -1 ? -1 : rc < 0 ? -2 : 0;
	}
	return REFUSE("not a step dlbpf runs (host mkdir -p | host bpftool prog loadall | host bpftool batch file | nsenter NS tc -batch)");
}

static int setup(int argc, char **argv)
{
	int first = atoi(argv[0]), k, i, nsteps = 0;
	if (!is_num(argv[0]) || first < 1) { fprintf(stderr, "dlbpf: FIRST %s is not a manifest line\n", argv[0]); return 2; }
	for (int apply = 0; apply <= 1; apply++) {
		for (i = 1, k = 0; i < argc; k++) {
			int c = is_num(argv[i]) ? atoi(argv[i]) : 0;
			if (c < 1 || i + 1 + c > argc) { fprintf(stderr, "dlbpf: argument %d: want ARGC ARG...\n", i + 3); return 2; }
			int rc = step(argv + i + 1, c, apply);
			if (rc == -1) fprintf(stderr, "dlbpf: manifest.tsv:%d: %s\n", first + k, why);
			if (apply) {
				struct timeval tv;
				gettimeofday(&tv, NULL);
				printf("%d\t%d\t%ld.%06ld\n", k + 1, rc < 0, (long)tv.tv_sec, (long)tv.tv_usec);
			}
			if (rc < 0) return refused ? 2 : 1;
			i += 1 + c;
		}
		nsteps = k;
	}
	return nsteps ? 0 : 2;
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

int main(int argc, char **argv)
{
	const char *usage = "usage: dlbpf setup LAB JOB FIRST ARGC ARG... | dlbpf dump LAB DIR FILE...\n";
	if (argc < 3) { fputs(usage, stderr); return 2; }
	lab = argv[2];
	if (strlen(lab) != 6 || strspn(lab, "0123456789abcdef") != 6) { fprintf(stderr, "dlbpf: lab id \"%s\" is not 6 hex digits\n", lab); return 2; }
	snprintf(root, sizeof root, "/sys/fs/bpf/dl-%s", lab);
	libbpf_set_print(quiet);
	/* Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK (bpftool raises it as well). */
	struct rlimit inf = {RLIM_INFINITY, RLIM_INFINITY};
	setrlimit(RLIMIT_MEMLOCK, &inf);
	if (!strcmp(argv[1], "dump")) return dump_maps(argc - 3, argv + 3);
	if (strcmp(argv[1], "setup") || argc < 7) { fputs(usage, stderr); return 2; }
	job = argv[3];
	if (job[0] != '/' || strstr(job, "..")) { fprintf(stderr, "dlbpf: JOB %s is not an absolute folder\n", job); return 2; }
	home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (home < 0) { fprintf(stderr, "dlbpf: /proc/self/ns/net: %s\n", strerror(errno)); return 1; }
	setvbuf(stdout, NULL, _IOLBF, 0);
	return setup(argc - 4, argv + 4);
}
