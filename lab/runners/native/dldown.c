/*
 * dldown: a lab's teardown from one process — what the agent's journal replay (agent/lifecycle.sh)
 * otherwise does with an `rm` per control socket, `stat` and `find` over /proc, and `ip netns
 * delete` (each a process start, 25-230 ms inside User-Mode Linux). It acts only on what it is
 * given: the agent reads the lab's journal, checks every value against the lab id, and passes
 * the items in the journal's reverse order.
 *
 * usage: dldown OP...
 *   k PID START   SIGKILL to PID if its start time (field 22 of /proc/PID/stat,
 *                 https://man7.org/linux/man-pages/man5/proc_pid_stat.5.html) is START: a pid
 *                 that was reused by another process is left alone
 *   u PATH        unlink a control socket (a path under /run ending in .ctl)
 *   r DIR         remove a folder under /sys/fs/bpf with everything in it (pins)
 *   n PATH        a named network namespace /run/netns/NAME: every process whose network
 *                 namespace it is gets SIGKILL, then it is unmounted and removed, as `ip netns
 *                 delete` does (umount2 MNT_DETACH, unlink). Consecutive n's are done together
 *                 (one pass over /proc for all of them).
 * Every operand is checked before anything is done (a malformed list does nothing, exit 2).
 * Exit status: 0, or 1 when something could not be removed (said on stderr).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static int bad;

static int is_num(const char *s)
{
	if (!*s || strlen(s) > 20) return 0;
	for (; *s; s++) if (*s < '0' || *s > '9') return 0;
	return 1;
}

static int under(const char *p, const char *dir)
{
	return !strncmp(p, dir, strlen(dir)) && p[strlen(dir)] && !strstr(p, "/..") && !strstr(p, "//");
}

static int valid(char **a, int n)
{
	if (!strcmp(a[0], "k")) return n >= 3 && is_num(a[1]) && is_num(a[2]) ? 3 : 0;
	if (n < 2) return 0;
	size_t l = strlen(a[1]);
	if (!strcmp(a[0], "u")) return under(a[1], "/run/") && l > 4 && !strcmp(a[1] + l - 4, ".ctl") ? 2 : 0;
	if (!strcmp(a[0], "r")) return under(a[1], "/sys/fs/bpf/") ? 2 : 0;
	if (!strcmp(a[0], "n")) return under(a[1], "/run/netns/") && !strchr(a[1] + strlen("/run/netns/"), '/') ? 2 : 0;
	return 0;
}

static void kill_recorded(const char *pid, const char *start)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%s/stat", pid);
	FILE *f = fopen(path, "re");
	if (!f) return; /* gone */
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	/* The command name (field 2) may hold spaces and parentheses: count from the last ')'. */
	char *p = strrchr(buf, ')');
	if (!p) return;
	p++;
	for (int field = 3; field < 22 && p; field++) p = strchr(p + 1, ' ');
	if (!p) return;
	p++;
	size_t l = strcspn(p, " ");
	if (l == strlen(start) && !strncmp(p, start, l)) kill(atoi(pid), SIGKILL);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)ftw;
	if ((flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT) {
		fprintf(stderr, "dldown: %s: %s\n", path, strerror(errno));
		bad = 1;
	}
	return 0;
}

/* The processes in any of the namespaces, then the namespaces themselves. */
static void flush_netns(char **paths, int n)
{
	dev_t dev[n];
	ino_t ino[n];
	int have = 0;
	for (int i = 0; i < n; i++) {
		struct stat st;
		if (stat(paths[i], &st) == 0) { dev[have] = st.st_dev; ino[have] = st.st_ino; have++; }
	}
	DIR *d = have ? opendir("/proc") : NULL;
	struct dirent *e;
	pid_t self = getpid();
	while (d && (e = readdir(d))) {
		if (!is_num(e->d_name) || atoi(e->d_name) == self) continue;
		char path[64];
		struct stat st;
		snprintf(path, sizeof path, "/proc/%s/ns/net", e->d_name);
		if (stat(path, &st) < 0) continue;
		for (int i = 0; i < have; i++)
			if (st.st_dev == dev[i] && st.st_ino == ino[i]) { kill(atoi(e->d_name), SIGKILL); break; }
	}
	if (d) closedir(d);
	for (int i = 0; i < n; i++) {
		umount2(paths[i], MNT_DETACH);
		if (unlink(paths[i]) < 0 && errno != ENOENT) {
			fprintf(stderr, "dldown: cannot remove namespace file %s: %s\n", paths[i], strerror(errno));
			bad = 1;
		}
	}
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc;) {
		int w = valid(argv + i, argc - i);
		if (!w) { fprintf(stderr, "dldown: operand %d (%s): want k PID START | u /run/….ctl | r /sys/fs/bpf/… | n /run/netns/NAME\n", i, argv[i]); return 2; }
		i += w;
	}
	char *ns[argc];
	int nns = 0;
	for (int i = 1; i < argc;) {
		char op = argv[i][0];
		if (op != 'n' && nns) { flush_netns(ns, nns); nns = 0; }
		switch (op) {
		case 'k': kill_recorded(argv[i + 1], argv[i + 2]); i += 3; continue;
		case 'u':
			if (unlink(argv[i + 1]) < 0 && errno != ENOENT) { fprintf(stderr, "dldown: %s: %s\n", argv[i + 1], strerror(errno)); bad = 1; }
			break;
		case 'r': nftw(argv[i + 1], rm_one, 16, FTW_DEPTH | FTW_PHYS); break;
		case 'n': ns[nns++] = argv[i + 1]; break;
		}
		i += 2;
	}
	if (nns) flush_netns(ns, nns);
	return bad;
}
