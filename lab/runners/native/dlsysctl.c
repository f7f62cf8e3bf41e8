/*
 * dlsysctl: applies the sysctl files of many lab namespaces from one process — where
 * `ip netns exec NS sysctl -p FILE` costs two process starts per namespace (25-230 ms each
 * inside User-Mode Linux). /proc/sys/net answers for the network namespace of the task that
 * opens it (https://docs.kernel.org/networking/ip-sysctl.html; net_ctl_header_lookup), so
 * setns(2) and then write(2) sets the namespace's value.
 *
 * usage: dlsysctl NSPATH FILE [NSPATH FILE]...
 *   FILE  lines "key = value" as for `sysctl -p`: '#' and ';' start comments; a key with a
 *         leading '-' may fail silently; dots separate the key's levels unless its first
 *         separator is '/' (then '/' does, and dots stay: interface names like eth1.1005),
 *         the same rule as procps sysctl.
 * Exit status: 0, or 1 when any value could not be written (each failure on stderr).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t') s++;
	char *e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r')) *--e = 0;
	return s;
}

/* procps' slashdot(): dots become slashes (and slashes dots) unless the key already uses '/'. */
static void to_path(char *key)
{
	char *p = strpbrk(key, "/.");
	if (!p || *p == '/') return;
	for (; p; p = strpbrk(p + 1, "/.")) *p = *p == '.' ? '/' : '.';
}

static int apply(const char *ns, const char *file)
{
	FILE *f = fopen(file, "r");
	if (!f) { fprintf(stderr, "dlsysctl: %s: %s\n", file, strerror(errno)); return 1; }
	char line[4096], path[4200];
	int bad = 0;
	while (fgets(line, sizeof line, f)) {
		char *s = trim(line);
		if (!*s || *s == '#' || *s == ';') continue;
		char *eq = strchr(s, '=');
		if (!eq) { fprintf(stderr, "dlsysctl: %s: not key = value: %s\n", file, s); bad = 1; continue; }
		*eq = 0;
		char *key = trim(s), *value = trim(eq + 1);
		int optional = *key == '-';
		if (optional) key++;
		to_path(key);
		snprintf(path, sizeof path, "/proc/sys/%s", key);
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		size_t n = strlen(value);
		if (fd < 0 || write(fd, value, n) != (ssize_t)n) {
			if (!optional) { fprintf(stderr, "dlsysctl: %s: %s: %s\n", ns, path, strerror(errno)); bad = 1; }
		}
		if (fd >= 0) close(fd);
	}
	fclose(f);
	return bad;
}

int main(int argc, char **argv)
{
	if (argc < 3 || argc % 2 == 0) { fprintf(stderr, "usage: dlsysctl NSPATH FILE [NSPATH FILE]...\n"); return 2; }
	int bad = 0;
	for (int i = 1; i + 1 < argc; i += 2) {
		int fd = open(argv[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) { fprintf(stderr, "dlsysctl: %s: %s\n", argv[i], strerror(errno)); return 1; }
		close(fd);
		bad |= apply(argv[i], argv[i + 1]);
	}
	return bad;
}
