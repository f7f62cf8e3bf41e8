/*
 * nlapply: the part dlipvs and dlipset share (see nlapply.h).
 *
 * usage: PROG LAB NSPATH FILE [NSPATH FILE ...]
 *   LAB     the lab id (6 hex digits, as the agent's journal has it)
 *   NSPATH  /run/netns/dl-LAB-<object>: the namespace FILE is applied in (setns(2),
 *           https://man7.org/linux/man-pages/man2/setns.2.html); a new netlink socket is opened
 *           there, so every request answers for that namespace, as the tool run with
 *           `ip netns exec NS` would.
 * Every argument and every line of every file is checked before anything is sent: a namespace
 * that is not the lab's, or a line outside the grammar ("FILE:LINE: <line>: <reason>" on stderr),
 * is exit 2 with nothing applied anywhere. Then one line per file applied or failed,
 * "INDEX<TAB>STATUS<TAB>END" (as dlnet and dlnsrun: INDEX from 1, STATUS 0 or 1, END the epoch
 * time with microseconds). The first request the kernel refuses stops the run: "FILE:LINE: <line>:
 * <reason>", exit 1. Netlink acknowledgements and extended acks:
 * https://docs.kernel.org/userspace-api/netlink/intro.html.
 */
#define _GNU_SOURCE
#include "nlapply.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int num(const char *s, unsigned long lo, unsigned long hi, uint32_t *v)
{
	char *e;
	errno = 0;
	unsigned long x = strtoul(s, &e, 10);
	if (*s < '0' || *s > '9' || *e || errno || x < lo || x > hi) return fail("invalid number \"%s\" (%lu-%lu)", s, lo, hi);
	*v = x;
	return 0;
}

/* A lab namespace path: /run/netns/dl-LAB-<object>. */
static int is_lab_ns_path(const char *lab, const char *p)
{
	return !strncmp(p, "/run/netns/", 11) && lab_ns_name(lab, p + 11);
}

/* Enters the namespace at PATH and opens the tool's netlink there (a socket answers for the
 * namespace it was created in: the previous one is closed). */
static int enter(const char *path, const struct grammar *g)
{
	if (nl_enter(path, g->protocol) < 0) return -1;
	return g->ready ? g->ready() : 0;
}

/* One file: its namespace, its parsed lines (g->size bytes each), their numbers and text. */
struct file { const char *ns, *path; char *ops; int *lines; char **text; int n; };

/* Reads and checks FILE whole; 0, or -1 after printing FILE:LINE. */
static int load(struct file *f, const struct grammar *g)
{
	FILE *in = fopen(f->path, "re");
	if (!in) { fprintf(stderr, "%s: %s\n", f->path, strerror(errno)); return -1; }
	char *line = NULL, *op = malloc(g->size);
	size_t cap = 0;
	int no = 0, rc = op ? 0 : -1;
	while (!rc && getline(&line, &cap, in) >= 0) {
		no++;
		line[strcspn(line, "\r\n")] = 0;
		char *copy = strdup(line);
		int r = copy ? g->parse(line, op, f->ops, f->n) : fail("%s", strerror(ENOMEM));
		if (r < 0) { fprintf(stderr, "%s:%d: %s: %s\n", f->path, no, copy ? copy : "", why); free(copy); rc = -1; break; }
		if (!r) { free(copy); continue; }
		char *ops = realloc(f->ops, (f->n + 1) * g->size);
		int *lines = realloc(f->lines, (f->n + 1) * sizeof *lines);
		char **text = realloc(f->text, (f->n + 1) * sizeof *text);
		if (ops) f->ops = ops;
		if (lines) f->lines = lines;
		if (text) f->text = text;
		if (!ops || !lines || !text) { fprintf(stderr, "%s: %s\n", f->path, strerror(ENOMEM)); free(copy); rc = -1; break; }
		memcpy(f->ops + f->n * g->size, op, g->size);
		f->lines[f->n] = no;
		f->text[f->n++] = copy;
	}
	if (!op) fprintf(stderr, "%s: %s\n", f->path, strerror(ENOMEM));
	if (!rc && ferror(in)) { fprintf(stderr, "%s: %s\n", f->path, strerror(errno)); rc = -1; }
	free(op);
	free(line);
	fclose(in);
	return rc;
}

int nlapply_main(int argc, char **argv, const struct grammar *g)
{
	if (argc < 4 || argc % 2) { fprintf(stderr, "usage: %s LAB NSPATH FILE [NSPATH FILE ...]\n", g->prog); return 2; }
	const char *lab = argv[1];
	if (strlen(lab) != 6 || strspn(lab, "0123456789abcdef") != 6) { fprintf(stderr, "%s: lab id \"%s\" is not 6 hex digits\n", g->prog, lab); return 2; }
	int nf = (argc - 2) / 2;
	struct file *files = calloc(nf, sizeof *files);
	if (!files) { fprintf(stderr, "%s: %s\n", g->prog, strerror(ENOMEM)); return 2; }
	/* Everything is checked before anything is applied: a namespace that is not the lab's, or a
	 * line outside the grammar, applies nothing anywhere. */
	for (int i = 0; i < nf; i++) {
		files[i].ns = argv[2 + 2 * i];
		files[i].path = argv[3 + 2 * i];
		if (!is_lab_ns_path(lab, files[i].ns)) {
			fprintf(stderr, "%s: %s is not a namespace of lab %s (/run/netns/dl-%s-…)\n", g->prog, files[i].ns, lab, lab);
			return 2;
		}
	}
	for (int i = 0; i < nf; i++)
		if (load(&files[i], g) < 0) return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0; i < nf; i++) {
		struct file *f = &files[i];
		int bad = 0;
		if (enter(f->ns, g) < 0) { fprintf(stderr, "%s: %s\n", g->prog, why); bad = 1; }
		for (int k = 0; !bad && k < f->n; k++)
			if (g->apply(f->ops + k * g->size, f->lines[k]) < 0) {
				fprintf(stderr, "%s:%d: %s: %s\n", f->path, f->lines[k], f->text[k], why);
				bad = 1;
			}
		struct timeval tv;
		gettimeofday(&tv, NULL);
		printf("%d\t%d\t%ld.%06ld\n", i + 1, bad, (long)tv.tv_sec, (long)tv.tv_usec);
		if (bad) return 1;
	}
	return 0;
}
