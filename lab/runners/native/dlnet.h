/* dlnet (dlnet.c: namespaces, files, rtnetlink; dlnet-lines.c: the batch grammar; nlmsg.c: the
 * netlink plumbing it shares with dlipvs and dlipset). */
#include "nlmsg.h"
#include <linux/rtnetlink.h>

extern const char *lab;   /* the lab id: namespaces named by a line must be dl-LAB-… */
int is_lab_ns(const char *name);
int apply_line(char *line);    /* 0, or -1 with why */
