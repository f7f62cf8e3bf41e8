/*
 * dlnsrun: runs many commands, each inside a lab network namespace, from one process — where
 * `ip netns exec NS CMD` or `ip -n NS …` costs an extra process start plus a private mount
 * namespace with a fresh /sys per command (25-230 ms inside User-Mode Linux). Each command
 * is forked, its child joins the namespace with setns(2) (the same call `nsenter --net` makes,
 * https://man7.org/linux/man-pages/man2/setns.2.html) and execs the command; the commands run
 * one after the other, in the order given. Tools that talk netlink or read /proc/net (ip, tc,
 * iptables-restore/-save, ipset, ipvsadm, conntrack) answer for the namespace of the calling
 * task, so nothing else is needed.
 *
 * usage: dlnsrun [-k] GROUP...
 *   GROUP  NSPATH IN OUT ERR ARGC ARG...   (ARGC words of argv follow)
 *          IN, OUT, ERR: files for stdin, stdout and stderr ("-" keeps dlnsrun's own; OUT and
 *          ERR are truncated; ERR "=" sends stderr where OUT goes)
 *   -k     keep going after a command fails (dumps); without it the first failure stops the run
 *          (build steps).
 * Prints one line per command that ran, "INDEX<TAB>STATUS<TAB>END" (INDEX from 1, STATUS its exit
 * status or 128+signal, END the epoch time it ended, in seconds with microseconds), on stdout.
 * The argv is executed as given (execvp), never through a shell — except the one built-in,
 *   "@cat PATH" (ARGC 2): this process itself joins the namespace, copies the file PATH (read
 *   there: /proc/self/net/… is that namespace's) to OUT and returns to its own namespace — no
 *   fork, no exec. conntrack's dump is read this way: /proc/net/nf_conntrack prints the lines
 *   `conntrack -L -o extended` prints (conntrack-tools made its extended output that file's format;
 *   https://git.netfilter.org/conntrack-tools/tree/src/conntrack.c, nf_conntrack_standalone.c
 *   ct_seq_show in the kernel), at the cost of a file read instead of a process start (25-70 ms
 *   in User-Mode Linux).
 * And "@bg CMD ARG..." (ARGC counts @bg): the command is started in its namespace as above but not
 *   waited for — a daemon (BIRD) — and its line carries a fourth field, its PID, for the journal;
 *   STATUS 0 means it was started. Several daemons thus cost one process start between them,
 *   instead of a fork of the agent's shell and an `ip netns exec` each.
 * Exit status: 0 when every command ran and exited 0, 1 otherwise, 2 on bad usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static int redirect(const char *path, int fd, int flags)
{
	if (!strcmp(path, "-")) return 0;
	int f = open(path, flags | O_CLOEXEC, 0644);
	if (f < 0) { fprintf(stderr, "dlnsrun: %s: %s\n", path, strerror(errno)); return -1; }
	if (dup2(f, fd) < 0) return -1;
	close(f);
	return 0;
}

/* The child: namespace, redirections, exec. Never returns. */
static void child(char **g, int argc)
{
	int fd = open(g[0], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) { fprintf(stderr, "dlnsrun: %s: %s\n", g[0], strerror(errno)); _exit(127); }
	close(fd);
	if (redirect(g[1], 0, O_RDONLY) < 0 || redirect(g[2], 1, O_WRONLY | O_CREAT | O_TRUNC) < 0) _exit(127);
	if (!strcmp(g[3], "=")) { if (dup2(1, 2) < 0) _exit(127); }
	else if (redirect(g[3], 2, O_WRONLY | O_CREAT | O_TRUNC) < 0) _exit(127);
	char **argv = calloc(argc + 1, sizeof *argv);
	if (!argv) _exit(127);
	memcpy(argv, g + 5, argc * sizeof *argv);
	execvp(argv[0], argv);
	fprintf(stderr, "dlnsrun: exec of %s failed: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* The built-in "@cat PATH" of a group, in this process (see the header). 0 or 1, like a command. */
static int cat_in(char **g, int self)
{
	int rc = 1, err = 2, in = -1, out = -1;
	if (strcmp(g[3], "=") && strcmp(g[3], "-")) err = open(g[3], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	out = strcmp(g[2], "-") ? open(g[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : 1;
	if (!strcmp(g[3], "=")) err = out;
	int ns = open(g[0], O_RDONLY | O_CLOEXEC);
	if (out < 0 || err < 0 || ns < 0 || setns(ns, CLONE_NEWNET) < 0) { dprintf(err < 0 ? 2 : err, "dlnsrun: %s: %s\n", g[0], strerror(errno)); goto done; }
	in = open(g[6], O_RDONLY | O_CLOEXEC);
	if (in < 0) { dprintf(err, "dlnsrun: %s: %s\n", g[6], strerror(errno)); goto back; }
	char buf[65536];
	ssize_t n;
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, n) != n) { dprintf(err, "dlnsrun: writing %s: %s\n", g[2], strerror(errno)); goto back; }
	rc = n < 0 ? 1 : 0;
	if (n < 0) dprintf(err, "dlnsrun: reading %s: %s\n", g[6], strerror(errno));
back:
	/* Back to our own namespace, or nothing more may run from here. */
	if (setns(self, CLONE_NEWNET) < 0) { fprintf(stderr, "dlnsrun: cannot return to its namespace: %s\n", strerror(errno)); exit(1); }
done:
	if (in >= 0) close(in);
	if (ns >= 0) close(ns);
	if (out > 2) close(out);
	if (err > 2 && err != out) close(err);
	return rc;
}

int main(int argc, char **argv)
{
	int keep = 0, i = 1, bad = 0, index = 0;
	if (i < argc && !strcmp(argv[i], "-k")) { keep = 1; i++; }
	if (i >= argc) { fprintf(stderr, "usage: dlnsrun [-k] NSPATH IN OUT ERR ARGC ARG... [NSPATH ...]\n"); return 2; }
	/* Checked in full before anything runs: a malformed list runs nothing. */
	for (int j = i; j < argc;) {
		char *end;
		long n = j + 4 < argc ? strtol(argv[j + 4], &end, 10) : -1;
		if (j + 4 >= argc || *end || n < 1 || n > argc - j - 5) { fprintf(stderr, "dlnsrun: group at word %d: want NSPATH IN OUT ERR ARGC ARG...\n", j); return 2; }
		j += 5 + n;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	while (i < argc) {
		int n = atoi(argv[i + 4]);
		int st, rc;
		index++;
		fflush(stdout);
		if (n == 2 && !strcmp(argv[i + 5], "@cat")) {
			if (self < 0) { fprintf(stderr, "dlnsrun: /proc/self/ns/net: %s\n", strerror(errno)); return 1; }
			rc = cat_in(argv + i, self);
		} else {
			/* "@bg CMD…": the child execs CMD (argv shifted by one word, the group's head kept). */
			int bg = n >= 2 && !strcmp(argv[i + 5], "@bg");
			pid_t pid = fork();
			if (pid < 0) { fprintf(stderr, "dlnsrun: fork: %s\n", strerror(errno)); return 1; }
			if (pid == 0) {
				if (bg) { memmove(argv + i + 5, argv + i + 6, (n - 1) * sizeof *argv); n--; }
				child(argv + i, n);
			}
			if (bg) {
				struct timeval tv;
				gettimeofday(&tv, NULL);
				printf("%d\t0\t%ld.%06ld\t%d\n", index, (long)tv.tv_sec, (long)tv.tv_usec, (int)pid);
				i += 5 + n;
				continue;
			}
			while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
			rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		struct timeval tv;
		gettimeofday(&tv, NULL);
		printf("%d\t%d\t%ld.%06ld\n", index, rc, (long)tv.tv_sec, (long)tv.tv_usec);
		if (rc) { bad = 1; if (!keep) break; }
		i += 5 + n;
	}
	return bad;
}
