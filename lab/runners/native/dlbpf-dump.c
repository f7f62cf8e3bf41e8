/*
 * dlbpf dump (see dlbpf.c): the agent's `bpf` dump of each node's service maps, as
 * `bpftool -j map dump pinned` prints their raw entries (bpftool's map.c: key and value as arrays
 * of "0x%02hhx" strings, in bpf_map_get_next_key order; a failed lookup as {"error": …}), from one
 * process for every node of a probe. BPF_MAP_GET_NEXT_KEY and BPF_MAP_LOOKUP_ELEM:
 * https://docs.kernel.org/userspace-api/ebpf/syscall.html
 */
#define _GNU_SOURCE
#include "dlbpf.h"
#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void hex_json(FILE *f, const unsigned char *b, __u32 n)
{
	fputc('[', f);
	for (__u32 i = 0; i < n; i++) fprintf(f, "%s\"0x%02hhx\"", i ? "," : "", b[i]);
	fputc(']', f);
}
static void json_error(FILE *f, const char *fmt, const char *a, int e)
{
	fputs("{\"error\":\"", f);
	fprintf(f, fmt, a);
	fprintf(f, ": %s\"}", strerror(e));
}

/* One map as `bpftool -j map dump pinned PATH` prints its raw entries (bpf_map_get_next_key order). */
static int dump_map(FILE *f, const char *path)
{
	int fd = bpf_obj_get(path);
	if (fd < 0) { json_error(f, "bpf obj get (%s)", path, errno); return -1; }
	struct bpf_map_info info = {0};
	__u32 len = sizeof info;
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) { json_error(f, "can't get map info (%s)", path, errno); close(fd); return -1; }
	unsigned char *key = calloc(1, info.key_size + 1), *prev = calloc(1, info.key_size + 1), *val = calloc(1, info.value_size + 1);
	fputc('[', f);
	int first = 1, rc = 0;
	if (!key || !prev || !val) rc = -1;
	while (!rc && !bpf_map_get_next_key(fd, first ? NULL : prev, key)) {
		fputs(first ? "{\"key\":" : ",{\"key\":", f);
		hex_json(f, key, info.key_size);
		fputs(",\"value\":", f);
		if (!bpf_map_lookup_elem(fd, key, val)) hex_json(f, val, info.value_size);
		else fprintf(f, "{\"error\":\"%s\"}", strerror(errno));   /* bpftool's entry for a failed lookup */
		fputc('}', f);
		memcpy(prev, key, info.key_size);
		first = 0;
	}
	fputc(']', f);
	free(key), free(prev), free(val);
	close(fd);
	return rc;
}

int dump_maps(int argc, char **argv)
{
	static const char *maps[] = {"lb4_services_v2", "lb4_backends", "lb4_reverse_nat"};
	int bad = 0;
	if (argc < 2 || argc % 2) { fprintf(stderr, "usage: dlbpf dump LAB DIR FILE [DIR FILE ...]\n"); return 2; }
	for (int i = 0; i < argc; i += 2)
		if (!is_lab_pin(argv[i])) { fprintf(stderr, "dlbpf: %s is outside the lab's bpffs folder %s\n", argv[i], root); return 2; }
	for (int i = 0; i < argc; i += 2) {
		FILE *f = fopen(argv[i + 1], "we");
		if (!f) { fprintf(stderr, "dlbpf: %s: %s\n", argv[i + 1], strerror(errno)); bad = 1; continue; }
		for (int m = 0; m < 3; m++) {
			char path[600];
			snprintf(path, sizeof path, "%s/%s", argv[i], maps[m]);
			fprintf(f, "# %s\n", maps[m]);
			if (dump_map(f, path) < 0) bad = 1;
			fputs("\n\n", f);
		}
		if (fclose(f)) bad = 1;
	}
	return bad;
}
