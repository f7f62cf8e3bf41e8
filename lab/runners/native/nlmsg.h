/* nlmsg: the netlink plumbing dlnet, dlipvs and dlipset share (nlmsg.c) — building a request,
 * one socket for the namespace the caller is in, sending and reading the acknowledgement, the
 * lab's namespace names. Each tool brings its family's messages. */
#include <linux/netlink.h>
#include <stddef.h>
#include <stdint.h>

extern char why[512]; /* why the last call failed */
extern int kerr;      /* the error number of the kernel's last refusal, 0 for none */
int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2))); /* sets why, returns -1 */

/* A request buffer: a line's request stays far below its size (dlnet's lines have at most 32 words). */
struct req { char b[4096]; } __attribute__((aligned(NLMSG_ALIGNTO)));
/* A request of TYPE whose family header (ifinfomsg, rtmsg…, genlmsghdr, nfgenmsg) is HDR. */
struct nlmsghdr *start(struct req *r, int type, int flags, const void *hdr, size_t len);
struct nlattr *put(struct nlmsghdr *n, int type, const void *data, size_t len);
void put8(struct nlmsghdr *n, int type, uint8_t v);
void put16(struct nlmsghdr *n, int type, uint16_t v);
void put32(struct nlmsghdr *n, int type, uint32_t v);
void end(struct nlmsghdr *n, struct nlattr *nest); /* closes a nested attribute */

/* Opens a netlink socket of PROTOCOL in the caller's namespace, closing the previous one (a socket
 * answers for the namespace it was created in); 0, or -1 with why. */
int nl_open(int protocol);
/* Enters the network namespace at PATH (setns(2)) and opens a socket of PROTOCOL there; 0, or -1
 * with why. Nothing is sent before that setns succeeded: never in the namespace the tool started in. */
int nl_enter(const char *path, int protocol);
/* Sends a request and reads its acknowledgement: 0, or -1 with why (strerror, and the kernel's
 * extended-ack text when it sent one) and kerr. Each answer before the acknowledgement goes to
 * REPLY (may be NULL) with its attributes after a family header of HDRLEN bytes. */
typedef void reply_fn(const struct nlattr *first, const char *end, void *arg);
int talk(struct nlmsghdr *n, size_t hdrlen, reply_fn *reply, void *arg);

/* NAME is dl-LAB-<object>, the agent's is_lab_ns ([A-Za-z0-9_][A-Za-z0-9_.-]{0,62}). */
int lab_ns_name(const char *lab, const char *name);
