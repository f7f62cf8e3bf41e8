/*
 * dlsysctl: applies the sysctl files of many lab namespaces from one process — where
 * `ip netns exec NS sysctl -p FILE` costs two process starts per namespace (25-230 ms each
 * inside User-Mode Linux). /proc/sys/net answers for the network namespace of the task that
 * opens it (https://docs.kernel.org/networking/ip-sysctl.html; net_ctl_header_lookup), so
 * setns(2) and then write(2) sets the namespace's value.
 *
 * usage: dlsysctl NSPATH FILE [NSPATH FILE]...
 *   FILE  a `sysctl -p` file (sysctl-file.c: the grammar, shared with dlnet).
 * Exit status: 0, or 1 when any value could not be written (each failure on stderr).
 */
#define _GNU_SOURCE
#include "sysctl-file.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3 || argc % 2 == 0) { fprintf(stderr, "usage: dlsysctl NSPATH FILE [NSPATH FILE]...\n"); return 2; }
	int bad = 0;
	for (int i = 1; i + 1 < argc; i += 2) {
		int fd = open(argv[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) { fprintf(stderr, "dlsysctl: %s: %s\n", argv[i], strerror(errno)); return 1; }
		close(fd);
		char who[4200];
		snprintf(who, sizeof who, "dlsysctl: %s", argv[i]);
		bad |= sysctl_apply_file(who, argv[i + 1]);
	}
	return bad;
}
