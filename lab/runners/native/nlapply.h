/* nlapply: what dlipvs and dlipset share (nlapply.c) — the arguments, the namespace check, the files
 * read and checked whole before anything is sent, one netlink socket per namespace, requests and
 * their acknowledgements, the status lines and exit codes. Each tool brings its grammar. */
#include <linux/netlink.h>
#include <stddef.h>
#include <stdint.h>

extern char why[512]; /* why the last call failed */
extern int kerr;      /* the error number of the kernel's last refusal, 0 for none */
int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2))); /* sets why, returns -1 */
int num(const char *s, unsigned long lo, unsigned long hi, uint32_t *v); /* decimal lo..hi, or -1 */

struct req { char b[1024]; } __attribute__((aligned(NLMSG_ALIGNTO)));
/* A request of TYPE whose family header (4 bytes for both generic netlink and nfnetlink) is HDR. */
struct nlmsghdr *start(struct req *r, int type, int flags, const void *hdr, size_t len);
struct nlattr *put(struct nlmsghdr *n, int type, const void *data, size_t len);
void put8(struct nlmsghdr *n, int type, uint8_t v);
void put16(struct nlmsghdr *n, int type, uint16_t v);
void put32(struct nlmsghdr *n, int type, uint32_t v);
void end(struct nlmsghdr *n, struct nlattr *nest); /* closes a nested attribute */
/* Sends a request and reads its acknowledgement: 0, or -1 with why (strerror, and the kernel's
 * extended-ack text when it sent one) and kerr. Each answer before the acknowledgement goes to
 * REPLY (may be NULL) with its attributes. */
typedef void reply_fn(const struct nlattr *first, const char *end, void *arg);
int talk(struct nlmsghdr *n, reply_fn *reply, void *arg);

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
