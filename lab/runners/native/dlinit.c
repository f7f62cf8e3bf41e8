/*
 * dlinit: the system calls of a User-Mode Linux guest's start and end (lab/runners/uml-init.sh),
 * made by one process each — where `mount`, `mkdir`, `ip`, `stty`, `uname`, `sync` and
 * `poweroff` cost a process start apiece (25-230 ms inside UML).
 *
 * usage: dlinit setup JOBDIR
 *   mounts proc, sysfs, devtmpfs (/dev), a tmpfs on /run (with /run/netns, /run/dl-job, /run/tmp),
 *   a tmpfs on /lib/modules with the UML module tree of the running kernel bound by hostfs at
 *   /lib/modules/<release> (the host's /lib/modules is never written), bpffs on /sys/fs/bpf, the
 *   host's JOBDIR by hostfs on /run/dl-job, and brings lo up. devtmpfs, bpffs and lo may fail
 *   (said on stderr); anything else is exit 1.
 * usage: dlinit finish RC
 *   flushes the file systems (evidence on hostfs), writes the summary line
 *   {"summary":true,"rc":RC,"kernel":"<release>"} on /dev/tty1 (the host's fd 3) in raw mode,
 *   RC to /proc/exitcode (linux.uml exits with it) and powers off. Does not return.
 *   Setup also points /proc/sys/kernel/modprobe at this binary (the module-request hook below).
 * The same steps as the shell fallback in uml-init.sh; mount(2) takes the hostfs host path as its
 * data, as `mount -t hostfs -o PATH` passes it (https://docs.kernel.org/virt/uml/user_mode_linux_howto_v2.html).
 *
 * usage (the kernel's): dlinit -q -- MODULE
 *   The module-request hook. When the kernel wants a module nobody loaded (an iptables match it
 *   has no extension for, a link type, a socket family), it runs the program named in
 *   /proc/sys/kernel/modprobe as `PROG -q -- NAME` (call_modprobe,
 *   https://elixir.bootlin.com/linux/v6.1/source/kernel/kmod.c). The hook appends
 *   "TIME<TAB>NAME" to /run/dl-job/out/module-requests — the job's evidence: a plan whose module
 *   list is complete makes none but those answered at once: a module already loaded or built in
 *   ("<TAB>loaded"), a name no module provides ("<TAB>nomodule"; see hook() below) — the scenario
 *   tests assert it (test/helpers/scenario.ts). Any other request goes on to the real
 *   modprobe for it, so a module missing from a list still loads (slowly: a usermode-helper
 *   process and a modprobe each), and the run never breaks for it.
 *   "bpfilter" is served too, not refused: the kernel asks for it at every iptables get/setsockopt
 *   while it is not loaded (bpfilter_mbox_request, 
 *   https://elixir.bootlin.com/linux/v6.1/source/net/ipv4/bpfilter/sockopt.c). A refusal does make
 *   ip_setsockopt/ip_getsockopt fall back to nf_setsockopt/nf_getsockopt
 *   (https://elixir.bootlin.com/linux/v6.1/source/net/ipv4/ip_sockglue.c), but it is asked again at
 *   the next call: eniip-5 made 114 requests, ~21 ms each. Plans that use iptables load it up front
 *   instead (lab/features.ts), which costs nothing measurable.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <termios.h>
#include <unistd.h>

static int bad;

static void mnt(const char *type, const char *src, const char *target, const char *data, int optional)
{
	if (mount(src, target, type, 0, data) == 0) return;
	fprintf(stderr, "dlinit: mount %s on %s: %s\n", type, target, strerror(errno));
	if (!optional) bad = 1;
}

static void dir(const char *path)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST) { fprintf(stderr, "dlinit: mkdir %s: %s\n", path, strerror(errno)); bad = 1; }
}

static void lo_up(void)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	strcpy(ifr.ifr_name, "lo");
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0) { fprintf(stderr, "dlinit: lo: %s\n", strerror(errno)); return; }
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) fprintf(stderr, "dlinit: lo up: %s\n", strerror(errno));
	close(s);
}

#define REQUESTS "/run/dl-job/out/module-requests"

/* Points the kernel's module requests at this binary (its own path, as the kernel sees it). */
static void hook_in(void)
{
	char self[256];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0 || n >= (ssize_t)sizeof self - 1) { fprintf(stderr, "dlinit: cannot name itself for /proc/sys/kernel/modprobe\n"); return; }
	self[n] = '\n';
	int fd = open("/proc/sys/kernel/modprobe", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, self, n + 1) != n + 1) fprintf(stderr, "dlinit: /proc/sys/kernel/modprobe: %s\n", strerror(errno));
	if (fd >= 0) close(fd);
}

/*
 * The plan's modules (DL_MODULES, a comma list) loaded by finit_module(2) from this process, in the
 * order modprobe would use: each module's dependencies from modules.dep first (recursively), its
 * softdep "pre:" modules before it and "post:" ones after (modules.softdep), as kmod does
 * (https://man7.org/linux/man-pages/man5/modules.dep.5.html, modprobe.d(5) "softdep"). A name
 * not in modules.dep (an alias), or one whose load fails, is written to /run/dl-job/out/modules-left
 * for uml-init.sh to hand to modprobe: the fallback that says why.
 */
struct kmod { char *name, *path, *deps; int state; }; /* state: 0 not yet, 1 loading/loaded, 2 failed */
static struct kmod *kmods;
static int nkmods;
static char *softdeps;
static const char *moddir;

static char *slurp(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return NULL;
	struct stat st;
	char *buf = NULL;
	if (fstat(fd, &st) == 0 && (buf = malloc(st.st_size + 1))) {
		ssize_t n, got = 0;
		while (got < st.st_size && (n = read(fd, buf + got, st.st_size - got)) > 0) got += n;
		buf[got] = 0;
	}
	close(fd);
	return buf;
}

/* "kernel/net/netfilter/xt_nat.ko" → "xt_nat"; modprobe treats '-' and '_' alike. */
static void modname(const char *path, char *out, size_t size)
{
	const char *b = strrchr(path, '/');
	b = b ? b + 1 : path;
	size_t i = 0;
	for (; b[i] && b[i] != '.' && i + 1 < size; i++) out[i] = b[i] == '-' ? '_' : b[i];
	out[i] = 0;
}

static int parse_dep(char *text)
{
	int cap = 1024;
	kmods = calloc(cap, sizeof *kmods);
	char *save;
	for (char *line = strtok_r(text, "\n", &save); line && kmods; line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':'), name[128];
		if (!colon) continue;
		*colon = 0;
		if (nkmods == cap) kmods = realloc(kmods, (cap *= 2) * sizeof *kmods);
		modname(line, name, sizeof name);
		kmods[nkmods++] = (struct kmod){ strdup(name), line, colon + 1, 0 };
	}
	return kmods ? 0 : -1;
}

static struct kmod *find_kmod(const char *want)
{
	char name[128];
	modname(want, name, sizeof name);
	for (int i = 0; i < nkmods; i++) if (!strcmp(kmods[i].name, name)) return &kmods[i];
	return NULL;
}

static int load(struct kmod *m);

/* The modules a softdep line of NAME lists after KIND ("pre:" or "post:"), each loaded. */
static int load_softdeps(const char *name, const char *kind)
{
	int rc = 0;
	for (const char *l = softdeps; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : "") {
		char w[8][128];
		int n = sscanf(l, "softdep %127s %127s %127s %127s %127s %127s %127s %127s", w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]);
		struct kmod *self = n > 0 ? find_kmod(w[0]) : NULL;
		if (!self || strcmp(self->name, name)) continue;
		for (int i = 1, on = 0; i < n; i++) {
			if (w[i][strlen(w[i]) - 1] == ':') { on = !strcmp(w[i], kind); continue; }
			struct kmod *d = on ? find_kmod(w[i]) : NULL;
			if (on && (!d || load(d))) rc = -1;
		}
	}
	return rc;
}

static int load(struct kmod *m)
{
	if (m->state) return m->state == 2 ? -1 : 0;
	m->state = 1;
	int rc = load_softdeps(m->name, "pre:");
	/* The dependencies, last first: each is loaded after its own (the recursion). */
	char deps[4096], *tok[256], *save;
	int n = 0;
	snprintf(deps, sizeof deps, "%s", m->deps);
	for (char *t = strtok_r(deps, " ", &save); t && n < 256; t = strtok_r(NULL, " ", &save)) tok[n++] = t;
	while (n-- > 0) {
		struct kmod *d = find_kmod(tok[n]);
		if (!d || load(d)) rc = -1;
	}
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", moddir, m->path);
	int fd = rc ? -1 : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST)) rc = -1;
	if (fd >= 0) close(fd);
	if (!rc) rc = load_softdeps(m->name, "post:");
	if (rc) m->state = 2;
	return rc;
}

static void load_modules(const char *dir)
{
	const char *list = getenv("DL_MODULES");
	char path[1024], *copy = strdup(list ? list : ""), *left = NULL;
	size_t leftlen = 0;
	FILE *lf = open_memstream(&left, &leftlen);
	moddir = dir;
	snprintf(path, sizeof path, "%s/modules.dep", dir);
	char *dep = *copy ? slurp(path) : NULL;
	snprintf(path, sizeof path, "%s/modules.softdep", dir);
	softdeps = slurp(path);
	int ok = dep && !parse_dep(dep);
	char *save;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		struct kmod *m = ok ? find_kmod(t) : NULL;
		if (!m || load(m)) fprintf(lf, "%s ", t);
	}
	fclose(lf);
	int fd = open("/run/dl-job/out/modules-left", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0) {
		if (write(fd, left, leftlen) < 0 || write(fd, "\n", 1) < 0) fprintf(stderr, "dlinit: /run/dl-job/out/modules-left: %s\n", strerror(errno));
		close(fd);
	}
}

/* '-' and '_' are one in module names and aliases, as modprobe takes them (outside [...] patterns). */
static void normalize(char *s)
{
	for (int in = 0; *s; s++) {
		if (*s == '[') in = 1;
		else if (*s == ']') in = 0;
		else if (*s == '-' && !in) *s = '_';
	}
}

/* What the module tree says of NAME: 2 built into the kernel, 1 a module or an alias of one
 * (modules.dep, modules.alias with modprobe's shell patterns), 0 nothing — modprobe would fail. */
static int provided(const char *dir, const char *name)
{
	static const char *const files[] = { "modules.builtin", "modules.dep", "modules.alias" };
	char path[1024], want[160];
	snprintf(want, sizeof want, "%s", name);
	normalize(want);
	for (int f = 0; f < 3; f++) {
		snprintf(path, sizeof path, "%s/%s", dir, files[f]);
		char *text = slurp(path), *save = NULL;
		for (char *l = text ? strtok_r(text, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
			char m[256];
			if (f < 2) {
				char *colon = strchr(l, ':');
				if (colon) *colon = 0;
				modname(l, m, sizeof m);
				if (!strcmp(m, want)) return f == 0 ? 2 : 1;
			} else if (sscanf(l, "alias %255s", m) == 1) {
				normalize(m);
				if (fnmatch(m, want, 0) == 0) return 1;
			}
		}
		free(text);
	}
	return 0;
}

/*
 * The kernel's request for module NAME (argv as call_modprobe builds it): logged, then answered.
 * Some requests are made whether or not the module is there (xt_physdev asks for br_netfilter at
 * its first rule: physdev_mt_check, https://elixir.bootlin.com/linux/v6.1/source/net/netfilter/xt_physdev.c),
 * and some name no module at all (SCTP's cookie HMAC: "crypto-hmac(md5)" before the hmac template
 * makes it, crypto_larval_lookup, https://elixir.bootlin.com/linux/v6.1/source/crypto/api.c). Those
 * are answered at once and marked "loaded" or "nomodule": no gap in the plan's list. Anything else
 * goes to modprobe.
 */
static int hook(char **argv)
{
	const char *name = argv[3];
	struct timeval tv;
	struct utsname u;
	char line[192], sys[192], dir[320];
	gettimeofday(&tv, NULL);
	uname(&u);
	snprintf(dir, sizeof dir, "/lib/modules/%s", u.release);
	snprintf(sys, sizeof sys, "/sys/module/%.120s", name);
	int has = !strchr(name, '/') && access(sys, F_OK) == 0 ? 2 : provided(dir, name);
	int fd = open(REQUESTS, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0) {
		/* One write(2) per line: requests may come from several helpers at once. */
		int n = snprintf(line, sizeof line, "%ld.%06ld\t%.*s%s\n", (long)tv.tv_sec, (long)tv.tv_usec, 120, name,
				 has == 2 ? "\tloaded" : has == 0 ? "\tnomodule" : "");
		if (write(fd, line, n) < 0) { /* the request is still served */ }
		close(fd);
	}
	if (has != 1) return has == 2 ? 0 : 1;
	argv[0] = "modprobe";
	execv("/sbin/modprobe", argv);
	execv("/usr/sbin/modprobe", argv);
	return 1;
}

static int setup(const char *job)
{
	struct utsname u;
	char mods[512], host[512];
	uname(&u);
	mnt("proc", "proc", "/proc", NULL, 0);
	mnt("sysfs", "sysfs", "/sys", NULL, 0);
	mnt("devtmpfs", "devtmpfs", "/dev", NULL, 1);
	if (access("/dev/fd", F_OK) < 0 && symlink("/proc/self/fd", "/dev/fd") < 0) fprintf(stderr, "dlinit: /dev/fd: %s\n", strerror(errno));
	mnt("tmpfs", "tmpfs", "/run", NULL, 0);
	dir("/run/netns");
	dir("/run/dl-job");
	dir("/run/tmp");
	snprintf(mods, sizeof mods, "/lib/modules/%s", u.release);
	snprintf(host, sizeof host, "/usr/lib/uml/modules/%s", u.release);
	mnt("tmpfs", "tmpfs", "/lib/modules", NULL, 0);
	dir(mods);
	mnt("hostfs", "hostfs", mods, host, 0);
	mnt("bpf", "bpf", "/sys/fs/bpf", NULL, 1);
	mnt("hostfs", "hostfs", "/run/dl-job", job, 0);
	lo_up();
	hook_in();
	load_modules(mods);
	return bad;
}

static void finish(const char *rc)
{
	struct utsname u;
	char line[256];
	uname(&u);
	sync();
	int fd = open("/dev/tty1", O_WRONLY | O_NOCTTY | O_CLOEXEC);
	if (fd >= 0) {
		struct termios t;
		if (tcgetattr(fd, &t) == 0) { cfmakeraw(&t); tcsetattr(fd, TCSANOW, &t); }
		int n = snprintf(line, sizeof line, "{\"summary\":true,\"rc\":%d,\"kernel\":\"%s\"}\n", atoi(rc), u.release);
		if (write(fd, line, n) < 0) { /* the host fails closed without the line */ }
		close(fd);
	}
	fd = open("/proc/exitcode", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		int n = snprintf(line, sizeof line, "%d\n", atoi(rc));
		if (write(fd, line, n) < 0) { /* linux.uml then exits 0: the summary still says rc */ }
		close(fd);
	}
	sync();
	reboot(RB_POWER_OFF);
	_exit(1);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "setup")) return setup(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "finish")) finish(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "-q") && !strcmp(argv[2], "--")) return hook(argv);
	fprintf(stderr, "usage: dlinit setup JOBDIR | dlinit finish RC\n");
	return 2;
}
