/* dlbpf (dlbpf.c: the set-up; dlbpf-dump.c: the map dumps). */
#ifndef DLBPF_H
#define DLBPF_H
/* /sys/fs/bpf/dl-LAB, set by main from the lab id. */
extern char root[64];
/* A path under the lab's bpffs folder (or the folder itself), without "..". */
int is_lab_pin(const char *p);
/* dlbpf dump's arguments after the lab id: DIR FILE pairs; the exit status. */
int dump_maps(int argc, char **argv);
#endif
