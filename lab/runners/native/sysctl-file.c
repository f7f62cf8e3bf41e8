/*
 * A `sysctl -p` file applied by writing /proc/sys, shared by dlsysctl and dlnet. /proc/sys/net
 * answers for the network namespace of the task that opens it
 * (https://docs.kernel.org/networking/ip-sysctl.html; net_ctl_header_lookup), so the caller
 * setns(2)es first and the writes set that namespace's values.
 *   FILE  lines "key = value" as for `sysctl -p`: '#' and ';' start comments; a key with a
 *         leading '-' may fail silently; dots separate the key's levels unless its first
 *         separator is '/' (then '/' does, and dots stay: interface names like eth1.1005),
 *         the same rule as procps sysctl.
 */
#define _GNU_SOURCE
#include "sysctl-file.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
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

/* 0, or 1 when a line is not key = value or a value could not be written (each on stderr,
 * prefixed with WHO); every line is tried. */
int sysctl_apply_file(const char *who, const char *file)
{
	FILE *f = fopen(file, "re");
	if (!f) { fprintf(stderr, "%s: %s: %s\n", who, file, strerror(errno)); return 1; }
	char line[4096], path[4200];
	int bad = 0;
	while (fgets(line, sizeof line, f)) {
		char *s = trim(line);
		if (!*s || *s == '#' || *s == ';') continue;
		char *eq = strchr(s, '=');
		if (!eq) { fprintf(stderr, "%s: %s: not key = value: %s\n", who, file, s); bad = 1; continue; }
		*eq = 0;
		char *key = trim(s), *value = trim(eq + 1);
		int optional = *key == '-';
		if (optional) key++;
		to_path(key);
		snprintf(path, sizeof path, "/proc/sys/%s", key);
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		size_t n = strlen(value);
		if (fd < 0 || write(fd, value, n) != (ssize_t)n) {
			if (!optional) { fprintf(stderr, "%s: %s: %s\n", who, path, strerror(errno)); bad = 1; }
		}
		if (fd >= 0) close(fd);
	}
	fclose(f);
	return bad;
}
