/*
 * dlipt: every `iptables-legacy-save -c` dump of a probe from one process. Inside User-Mode
 * Linux each iptables-legacy-save costs ~80 ms, most of it the dynamic loading of libxtables,
 * libip4tc and the libxt_*.so extensions under ptrace; here they load once per process, and each
 * dump is a setns(2) (https://man7.org/linux/man-pages/man2/setns.2.html) and a few getsockopt
 * calls. The agent (lab/runners/agent/probe.sh dump_group) hands it a probe's iptables dumps when
 * its save tool is iptables-legacy-save (the UML guest); elsewhere one iptables-save per dump.
 *
 * usage: dlipt LAB NSPATH FILE [NSPATH FILE ...]
 *   LAB     the lab id: every NSPATH must be /run/netns/dl-LAB-NAME (the agent's is_lab_ns), and
 *           never the namespace dlipt started in. Checked for every pair before anything runs:
 *           a bad list writes nothing and exits 2.
 *   FILE    gets exactly what `iptables-legacy-save -c` prints in that namespace (its stdout and
 *           stderr, as the agent's `ip netns exec NS iptables-legacy-save -c >FILE 2>&1`), the two
 *           date comments too (their dates are the moment of this dump).
 * Exit status: 0 when every dump was written, 1 when one failed (a missing namespace: its FILE
 * says so, the others are still written), 2 on bad usage. It only reads: no table, chain or
 * module is created (iptables-save itself modprobes ip_tables when a listed table will not open;
 * here that table's FILE gets the error instead).
 *
 * The output follows iptables 1.8.9's legacy save path, function by function (comments name them):
 *   iptables/iptables-save.c  for_each_table, do_output, iptables_dump_rules
 *   iptables/iptables.c       print_rule4
 *   iptables/xshared.c        save_ipv4_addr, mask_to_str, save_iface, save_rule_details,
 *                             proto_to_name, print_match_save
 * https://git.netfilter.org/iptables/tree/iptables/iptables-save.c?h=v1.8.9 (and iptables.c,
 * xshared.c there); the matches' and targets' own text comes from their `save` callbacks in the
 * installed libxt_*.so, found with xtables_find_match/xtables_find_target as iptables-save finds
 * them. test/kernel/dlipt-uml.test.ts compares its dumps with iptables-legacy-save's, byte for byte
 * but for the dates, for the rules of every scenario of the catalogue.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libiptc/libiptc.h>
#include <netdb.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xtables.h>

/* The version iptables-save prints in its first comment: the one whose save path this follows. */
#define IPT_VERSION "1.8.9"

static const char *lab;
static jmp_buf bail;
static int armed;

/* libxtables' error exit (xt_params->exit_err), worded as iptables' own: during a dump it ends
 * that dump only (the message is in its FILE), not the other namespaces'. */
static void __attribute__((noreturn, format(printf, 2, 3))) exit_err(enum xtables_exittype status, const char *msg, ...)
{
	va_list ap;
	va_start(ap, msg);
	fprintf(stderr, "iptables-save v%s (legacy): ", IPT_VERSION);
	vfprintf(stderr, msg, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (armed) longjmp(bail, 1);
	exit(status);
}

static struct xtables_globals globals = {
	.program_name = "iptables-save",
	.program_version = IPT_VERSION,
	.exit_err = exit_err,
	.compat_rev = xtables_compatible_revision,
};

/* xshared.c mask_to_str: a prefix length, or the dotted mask when it is not contiguous. */
static const char *mask_to_str(const struct in_addr *mask)
{
	static char out[INET_ADDRSTRLEN];
	uint32_t bits = 0xFFFFFFFEU, hmask = ntohl(mask->s_addr);
	int i = 32;
	if (mask->s_addr == 0xFFFFFFFFU) return "32";
	while (--i >= 0 && hmask != bits) bits <<= 1;
	if (i >= 0) snprintf(out, sizeof out, "%d", i);
	else inet_ntop(AF_INET, mask, out, sizeof out);
	return out;
}

/* xshared.c save_ipv4_addr: " [!] -s A/M", nothing for 0.0.0.0/0 without "!". */
static void save_ipv4_addr(char letter, const struct in_addr *addr, const struct in_addr *mask, int invert)
{
	char buf[INET_ADDRSTRLEN];
	if (!mask->s_addr && !invert && !addr->s_addr) return;
	printf("%s -%c %s/%s", invert ? " !" : "", letter, inet_ntop(AF_INET, addr, buf, sizeof buf), mask_to_str(mask));
}

/* xshared.c save_iface (1.8.9, by the mask: 1.8.10 prints the name as it is): the bytes the mask
 * covers, "+" when the mask ends before the name does (a wildcard). */
static void save_iface(char letter, const char *iface, const unsigned char *mask, int invert)
{
	if (mask[0] == 0) return;
	printf("%s -%c ", invert ? " !" : "", letter);
	for (unsigned i = 0; i < IFNAMSIZ; i++) {
		if (mask[i] != 0) {
			if (iface[i] != '\0') putchar(iface[i]);
		} else {
			if (iface[i - 1] != '\0') putchar('+');
			break;
		}
	}
}

/* xshared.c proto_to_name: libxtables' own table first, then /etc/protocols. */
static const char *proto_to_name(uint16_t proto, int nolookup)
{
	for (unsigned i = 0; xtables_chain_protos[i].name != NULL; i++)
		if (xtables_chain_protos[i].num == proto) return xtables_chain_protos[i].name;
	if (proto && !nolookup) {
		struct protoent *p = getprotobynumber(proto);
		if (p) return p->p_name;
	}
	return NULL;
}

/* xshared.c save_rule_details: interfaces, protocol, fragment flag. */
static void save_rule_details(const struct ipt_ip *ip)
{
	save_iface('i', ip->iniface, ip->iniface_mask, ip->invflags & IPT_INV_VIA_IN);
	save_iface('o', ip->outiface, ip->outiface_mask, ip->invflags & IPT_INV_VIA_OUT);
	if (ip->proto > 0) {
		const char *name = proto_to_name(ip->proto, 0);
		if (ip->invflags & XT_INV_PROTO) printf(" !");
		if (name) printf(" -p %s", name);
		else printf(" -p %u", ip->proto);
	}
	if (ip->flags & IPT_F_FRAG) {
		if (ip->invflags & IPT_INV_FRAG) printf(" !");
		printf(" -f");
	}
}

/* xshared.c print_match_save: " -m NAME" and the extension's own options, the revision the rule has. */
static int print_match_save(const struct xt_entry_match *e, const struct ipt_ip *ip)
{
	const char *name = e->u.user.name;
	struct xtables_match *match = xtables_find_match(name, XTF_TRY_LOAD, NULL), *mt, *mt2;
	if (!match) {
		if (e->u.match_size) xtables_error(OTHER_PROBLEM, "Can't find library for match `%s'", name);
		return 0;
	}
	mt = mt2 = xtables_find_match_revision(name, XTF_TRY_LOAD, match, e->u.user.revision);
	if (!mt2) mt2 = match;
	printf(" -m %s", mt2->alias ? mt2->alias(e) : name);
	if (mt && mt->save) mt->save(ip, e);
	else if (match->save) printf(" [unsupported revision]");
	return 0;
}

/* iptables.c print_rule4 with counters (iptables-save -c): one rule as an -A line. */
static void print_rule4(const struct ipt_entry *e, struct xtc_handle *h, const char *chain)
{
	printf("[%llu:%llu] ", (unsigned long long)e->counters.pcnt, (unsigned long long)e->counters.bcnt);
	printf("-A %s", chain);
	save_ipv4_addr('s', &e->ip.src, &e->ip.smsk, e->ip.invflags & IPT_INV_SRCIP);
	save_ipv4_addr('d', &e->ip.dst, &e->ip.dmsk, e->ip.invflags & IPT_INV_DSTIP);
	save_rule_details(&e->ip);
	if (e->target_offset) IPT_MATCH_ITERATE(e, print_match_save, &e->ip);

	const char *target_name = iptc_get_target(e, h);
	const struct xt_entry_target *t = ipt_get_target((struct ipt_entry *)e);
	if (t->u.user.name[0]) {
		const char *name = t->u.user.name;
		struct xtables_target *target = xtables_find_target(name, XTF_TRY_LOAD), *tg, *tg2;
		if (!target) xtables_error(OTHER_PROBLEM, "Can't find library for target `%s'", name);
		tg = tg2 = xtables_find_target_revision(name, XTF_TRY_LOAD, target, t->u.user.revision);
		if (!tg2) tg2 = target;
		printf(" -j %s", tg2->alias ? tg2->alias(t) : target_name);
		if (tg && tg->save) tg->save(&e->ip, t);
		else if (target->save) printf(" [unsupported revision]");
		else if (t->u.target_size != sizeof(struct xt_entry_target))
			xtables_error(OTHER_PROBLEM, "Target `%s' is missing save function", name);
	} else if (target_name && *target_name != '\0') {
		printf(" -%c %s", e->ip.flags & IPT_F_GOTO ? 'g' : 'j', target_name);
	}
	printf("\n");
}

/* iptables-save.c do_output for one table: chains with policies and counters, then every rule. */
static void dump_table(const char *table)
{
	struct xtc_handle *h = iptc_init(table);
	if (!h) xtables_error(OTHER_PROBLEM, "Cannot initialize: %s", iptc_strerror(errno));
	time_t now = time(NULL);
	printf("# Generated by %s v%s on %s", globals.program_name, IPT_VERSION, ctime(&now));
	printf("*%s\n", table);
	for (const char *c = iptc_first_chain(h); c; c = iptc_next_chain(h)) {
		printf(":%s ", c);
		if (iptc_builtin(c, h)) {
			struct xt_counters n;
			printf("%s ", iptc_get_policy(c, &n, h));
			printf("[%llu:%llu]\n", (unsigned long long)n.pcnt, (unsigned long long)n.bcnt);
		} else {
			printf("- [0:0]\n");
		}
	}
	for (const char *c = iptc_first_chain(h); c; c = iptc_next_chain(h))
		for (const struct ipt_entry *e = iptc_first_rule(c, h); e; e = iptc_next_rule(e, h)) print_rule4(e, h, c);
	now = time(NULL);
	printf("COMMIT\n");
	printf("# Completed on %s", ctime(&now));
	iptc_free(h);
}

/* iptables-save.c for_each_table: the tables this namespace has, in the kernel's order; none
 * (ip_tables not loaded) prints nothing. */
static void dump_all_tables(void)
{
	char name[XT_TABLE_MAXNAMELEN + 1];
	FILE *f = fopen("/proc/net/ip_tables_names", "re");
	if (!f) {
		if (errno == ENOENT) return;
		xtables_error(OTHER_PROBLEM, "Failed to list table names in /proc/net/ip_tables_names: %s", strerror(errno));
	}
	while (fgets(name, sizeof name, f)) {
		size_t n = strlen(name);
		if (name[n - 1] != '\n') { fclose(f); xtables_error(OTHER_PROBLEM, "Badly formed tablename `%s'", name); }
		name[n - 1] = '\0';
		dump_table(name);
	}
	fclose(f);
}

/* The lab's namespaces only: /run/netns/dl-LAB-NAME, NAME as the agent's is_lab_ns allows
 * ([A-Za-z0-9_][A-Za-z0-9_.-]{0,62}). */
static int lab_path(const char *path)
{
	static const char dir[] = "/run/netns/dl-";
	size_t ll = strlen(lab), n;
	if (strncmp(path, dir, sizeof dir - 1) || strncmp(path + sizeof dir - 1, lab, ll) || path[sizeof dir - 1 + ll] != '-') return 0;
	const char *name = path + sizeof dir + ll;
	n = strlen(name);
	if (n < 1 || n > 63 || name[0] == '.' || name[0] == '-') return 0;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

/* One dump: FILE opened, the namespace joined, stdout and stderr into FILE for the save path and
 * the extensions' callbacks (they print on stdout), then everything put back. 0 or 1. */
static int dump_one(const char *nspath, const char *file, int home, int out, int err)
{
	volatile int rc = 1;   /* set after setjmp: volatile, or a longjmp may leave a stale copy */
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) { fprintf(stderr, "dlipt: %s: %s\n", file, strerror(errno)); return 1; }
	fflush(stdout);
	if (dup2(fd, 1) < 0 || dup2(fd, 2) < 0) { close(fd); return 1; }
	close(fd);
	struct stat a, b;
	int ns = open(nspath, O_RDONLY | O_CLOEXEC);
	if (ns < 0 || fstat(ns, &a) < 0 || fstat(home, &b) < 0) {
		fprintf(stderr, "dlipt: %s: %s\n", nspath, strerror(errno));
	} else if (a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
		fprintf(stderr, "dlipt: %s is the namespace dlipt started in\n", nspath);
	} else if (setns(ns, CLONE_NEWNET) < 0) {
		fprintf(stderr, "dlipt: %s: %s\n", nspath, strerror(errno));
	} else {
		armed = 1;
		if (!setjmp(bail)) { dump_all_tables(); rc = 0; }
		armed = 0;
		/* Back to our own namespace, or nothing more may run from here. */
		if (setns(home, CLONE_NEWNET) < 0) { fprintf(stderr, "dlipt: cannot return to its namespace: %s\n", strerror(errno)); exit(1); }
	}
	if (ns >= 0) close(ns);
	fflush(stdout);
	if (dup2(out, 1) < 0 || dup2(err, 2) < 0) exit(1);
	if (rc) fprintf(stderr, "dlipt: the dump of %s into %s failed\n", nspath, file);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 4 || argc % 2) { fprintf(stderr, "usage: dlipt LAB NSPATH FILE [NSPATH FILE ...]\n"); return 2; }
	lab = argv[1];
	if (!*lab || strspn(lab, "abcdefghijklmnopqrstuvwxyz0123456789") != strlen(lab)) { fprintf(stderr, "dlipt: bad lab id \"%s\"\n", lab); return 2; }
	/* Checked in full before anything runs: a list with one foreign namespace writes nothing. */
	for (int i = 2; i < argc; i += 2)
		if (!lab_path(argv[i])) { fprintf(stderr, "dlipt: %s is not a namespace of lab %s (/run/netns/dl-%s-…)\n", argv[i], lab, lab); return 2; }
	int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	int out = fcntl(1, F_DUPFD_CLOEXEC, 3), err = fcntl(2, F_DUPFD_CLOEXEC, 3);
	if (home < 0 || out < 0 || err < 0) { fprintf(stderr, "dlipt: %s\n", strerror(errno)); return 1; }
	if (xtables_init_all(&globals, NFPROTO_IPV4) < 0) { fprintf(stderr, "dlipt: cannot initialize xtables\n"); return 1; }
	int bad = 0;
	for (int i = 2; i < argc; i += 2) bad |= dump_one(argv[i], argv[i + 1], home, out, err);
	return bad;
}
