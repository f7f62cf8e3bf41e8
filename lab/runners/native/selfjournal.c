/*
 * A daemon the agent starts in the root namespace with sockets in the lab's namespaces (dlpod's pod
 * servers, dlcap's capture) records itself in the lab's journal — "daemon NAME PID START", the line
 * the agent writes (lab/state/journal.ts), START being field 22 of /proc/self/stat — before it opens
 * anything. The agent can only write that line once the process runs: killed in between, it would
 * leave a daemon the journal does not name, which `lab down` (journal replay, never name matching)
 * cannot find, and whose namespace is its own root one. The agent still writes its line (the
 * build's journal failure stays exit 13); the two name the same pid and start time.
 * DL_JOURNAL (the journal's path) and DL_JOURNAL_AS (the daemon's name) come from the agent; without
 * them nothing is written. A journal that cannot be written ends the process (13) before it has
 * made anything, as the agent's journal() stops the build.
 */
#define _GNU_SOURCE
#include "selfjournal.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void self_journal(const char *prog)
{
	const char *path = getenv("DL_JOURNAL"), *name = getenv("DL_JOURNAL_AS");
	if (!path || !name) return;
	if (strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") != strlen(name) || !*name) {
		fprintf(stderr, "%s: DL_JOURNAL_AS is not a daemon name: %s\n", prog, name);
		exit(2);
	}
	char st[1024];
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, st, sizeof st - 1);
	if (fd >= 0) close(fd);
	char *p = n > 0 ? (st[n] = 0, strrchr(st, ')')) : NULL;
	/* the 20th space after "pid (comm)" comes before field 22, the start time */
	for (int f = 2; p && f < 22; f++) p = strchr(p + 1, ' ');
	unsigned long long start = p ? strtoull(p + 1, NULL, 10) : 0;
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	char line[256];
	int len = snprintf(line, sizeof line, "daemon\t%s\t%d\t%llu\n", name, (int)getpid(), start);
	const char *sync = getenv("DL_JOURNAL_SYNC");
	if (!start || fd < 0 || write(fd, line, len) != len || ((!sync || strcmp(sync, "0")) && fsync(fd) < 0)) {
		fprintf(stderr, "%s: cannot record itself in the lab's journal %s\n", prog, path);
		exit(13);
	}
	close(fd);
}
