/* nlapply: what dlipvs and dlipset share (nlapply.c) — the arguments, the namespace check, the files
 * read and checked whole before anything is sent, one netlink socket per namespace, the status
 * lines and exit codes (the netlink plumbing itself is nlmsg.c's, dlnet's too). Each tool brings
 * its grammar. */
#include "nlmsg.h"

int num(const char *s, unsigned long lo, unsigned long hi, uint32_t *v); /* decimal lo..hi, or -1 */

/* A tool: its netlink protocol and its lines. parse reads one line into op (size bytes), given
 * the lines of the file parsed before it: 1, 0 for a line that does nothing, -1 with why. ready
 * runs once the namespace's socket is open (may be NULL); apply sends one line's request. */
struct grammar {
	const char *prog;
	int protocol;
	size_t size;
	int (*parse)(char *line, void *op, const void *ops, int n_ops);
	int (*ready)(void);
	int (*apply)(const void *op, int line);
};
int nlapply_main(int argc, char **argv, const struct grammar *g);
