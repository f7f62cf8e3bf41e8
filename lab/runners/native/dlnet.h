/* dlnet (dlnet.c: namespaces, files, rtnetlink; dlnet-lines.c: the batch grammar). */
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

extern const char *lab;   /* the lab id: namespaces named by a line must be dl-LAB-… */
extern char why[512];     /* why the last call failed */
int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));  /* sets why, returns -1 */
int is_lab_ns(const char *name);
int talk(struct nlmsghdr *n);  /* sends a request, waits for its ack: 0, or -1 with why */
int apply_line(char *line);    /* 0, or -1 with why */
