/* dlbird — BIRD's control socket spoken from one process (no birdcl per poll or per dump).
 *
 *   dlbird wait SPEAKERS... : each speaker is NS SOCK SECONDS NPREFIX PREFIX... ; polls every
 *       speaker every 25 ms ("show protocols": every BGP protocol up and Established; the main
 *       table of NS holds each PREFIX) until all converge or a speaker's deadline passes. Prints
 *       one line per speaker that converged (RC 0) or timed out (RC 1) on stdout: INDEX(1-based)
 *       RC END_TIME T0, tab-separated. On timeout, the message the agent's shell wait printed goes to
 *       stderr and the exit status is 1.
 *   dlbird dump SOCK FILE [SOCK FILE...] : "show protocols", a "# show route all" line, the
 *       banner and "show route all" into FILE, as birdcl prints them (agent/probe.sh bird_dump).
 *
 * The protocol (BIRD 2, https://bird.network.cz/?get_doc&v=20&f=prog-8.html and
 * https://gitlab.nic.cz/labs/bird/-/blob/master/client/client.c server_got_reply): a UNIX stream
 * socket; the server greets with "0001 BIRD x.y ready."; each reply line is "NNNN-text" (more
 * follows) or "NNNN text" (last line of the reply), " text" continues the previous code, "+text"
 * is asynchronous; code 0000 prints nothing. birdcl prints text after the 5-character prefix
 * (the continuation without its leading space). Only sockets /run/dl-*.ctl are used; nothing
 * BIRD sends is executed; each read is bounded in time (2 s) and size (8 MiB per reply). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_REPLY (8u << 20)
#define MAX_SPEAKERS 64

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static int lab_ctl(const char *p) {
  size_t n = strlen(p);
  return strncmp(p, "/run/dl-", 8) == 0 && n > 12 && strcmp(p + n - 4, ".ctl") == 0 && !strstr(p, "..") &&
         !strchr(p + 5, '/') && n < sizeof(((struct sockaddr_un *)0)->sun_path);
}

/* A connection: fd and a read buffer of what came after the last line taken. */
struct conn { int fd; char buf[65536]; size_t len; char banner[256]; };

static int conn_line(struct conn *c, char *out, size_t cap) {
  for (;;) {
    char *nl = memchr(c->buf, '\n', c->len);
    if (nl) {
      size_t n = nl - c->buf, k = n < cap - 1 ? n : cap - 1;
      memcpy(out, c->buf, k);
      out[k] = 0;
      memmove(c->buf, nl + 1, c->len - n - 1);
      c->len -= n + 1;
      return 0;
    }
    if (c->len == sizeof c->buf) c->len = 0; /* a line longer than the buffer: dropped */
    ssize_t r = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
    if (r <= 0) return -1;
    c->len += r;
  }
}

/* Reads one reply; appends what birdcl prints to out (or, when out is NULL, nothing). Returns 0
 * at the reply's last line, -1 on a closed or silent socket or an oversized reply. */
static int read_reply(struct conn *c, char **out, size_t *olen) {
  static char line[65536];
  size_t total = 0;
  for (;;) {
    if (conn_line(c, line, sizeof line)) return -1;
    size_t n = strlen(line);
    if ((total += n) > MAX_REPLY) return -1;
    const char *text = NULL;
    int last = 0;
    char tmp[300];
    if (line[0] == '+') { snprintf(tmp, sizeof tmp, ">>> %.280s", line + 1); text = tmp; }
    else if (line[0] == ' ') text = line + 1;
    else if (n > 4 && line[0] >= '0' && line[0] <= '9' && (line[4] == ' ' || line[4] == '-')) {
      if (strncmp(line, "0000", 4)) text = line + 5;
      last = line[4] == ' ';
    } else { snprintf(tmp, sizeof tmp, "??? <%.280s>", line); text = tmp; }
    if (text && out) {
      size_t k = strlen(text);
      *out = realloc(*out, *olen + k + 2);
      if (!*out) return -1;
      memcpy(*out + *olen, text, k);
      (*out)[*olen + k] = '\n';
      *olen += k + 1;
      (*out)[*olen] = 0;
    }
    if (last) return 0;
  }
}

static int conn_open(struct conn *c, const char *path, char *err, size_t cap) {
  struct sockaddr_un a = { .sun_family = AF_UNIX };
  struct timeval tv = { 2, 0 };
  c->len = 0;
  c->banner[0] = 0;
  snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
  c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c->fd < 0 || setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) ||
      connect(c->fd, (struct sockaddr *)&a, sizeof a)) {
    snprintf(err, cap, "Unable to connect to server control socket (%s): %s\n", path, strerror(errno));
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    return -1;
  }
  char *hello = NULL;
  size_t hl = 0;
  if (read_reply(c, &hello, &hl) || !hello) {
    snprintf(err, cap, "no greeting from %s\n", path);
    free(hello);
    close(c->fd);
    c->fd = -1;
    return -1;
  }
  snprintf(c->banner, sizeof c->banner, "%.*s", (int)(hl ? hl - 1 : 0), hello);
  free(hello);
  return 0;
}

static int command(struct conn *c, const char *cmd, char **out, size_t *olen) {
  size_t n = strlen(cmd);
  return write(c->fd, cmd, n) == (ssize_t)n ? read_reply(c, out, olen) : -1;
}

/* --- dump ---------------------------------------------------------------------------- */
static int dump_one(const char *sock, const char *file) {
  FILE *f = fopen(file, "w");
  if (!f) return 1;
  struct conn c;
  char err[512];
  if (!lab_ctl(sock)) { fprintf(f, "not a lab control socket: %s\n", sock); fclose(f); return 1; }
  if (conn_open(&c, sock, err, sizeof err)) { fputs(err, f); fclose(f); return 1; }
  char *p = NULL, *r = NULL;
  size_t pl = 0, rl = 0;
  int rc = command(&c, "show protocols\n", &p, &pl);
  if (!rc) rc = command(&c, "show route all\n", &r, &rl);
  fprintf(f, "%s\n%s# show route all\n%s\n%s", c.banner, p ? p : "", c.banner, r ? r : "");
  if (rc) fprintf(f, "dlbird: reply from %s cut short\n", sock);
  close(c.fd);
  free(p);
  free(r);
  return fclose(f) || rc;
}

/* --- wait ---------------------------------------------------------------------------- */
struct speaker {
  const char *ns, *sock; double deadline; char **pfx; int npfx;
  struct conn c; int done; double end; pid_t pid;
  int n_bgp, n_est; char missing[1024]; char *shown;
};

/* A process in the namespace (its /proc/PID/ns/net is /run/netns/NS), as agent/build.sh
 * bgp_routes finds it; kept while it stays there. */
static pid_t ns_pid(const char *ns, pid_t cached) {
  char path[300];
  struct stat want, got;
  snprintf(path, sizeof path, "/run/netns/%s", ns);
  if (stat(path, &want)) return 0;
  if (cached) {
    snprintf(path, sizeof path, "/proc/%d/ns/net", cached);
    if (!stat(path, &got) && got.st_dev == want.st_dev && got.st_ino == want.st_ino) return cached;
  }
  DIR *d = opendir("/proc");
  struct dirent *e;
  pid_t found = 0;
  while (d && !found && (e = readdir(d))) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    snprintf(path, sizeof path, "/proc/%s/ns/net", e->d_name);
    if (!stat(path, &got) && got.st_dev == want.st_dev && got.st_ino == want.st_ino) found = atoi(e->d_name);
  }
  if (d) closedir(d);
  return found;
}

/* The keys `ip route show` prints for the main table (a host route without /32, "default"),
 * from /proc/PID/net/route (fib_route_seq_show, https://elixir.bootlin.com/linux/v6.6/source/
 * net/ipv4/fib_trie.c: addresses as 32-bit words in host order — little-endian here). */
static char *route_keys(pid_t pid) {
  char path[64], line[512];
  snprintf(path, sizeof path, "/proc/%d/net/route", pid);
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  size_t cap = 4096, len = 1;
  char *keys = calloc(cap, 1);
  keys[0] = ' ';
  while (keys && fgets(line, sizeof line, f)) {
    char ifc[64];
    unsigned d, g, m;
    if (sscanf(line, "%63s %8X %8X %*s %*s %*s %*s %8X", ifc, &d, &g, &m) != 4) continue;
    int l = __builtin_popcount(m);
    char k[40];
    if (l == 0) snprintf(k, sizeof k, "default ");
    else if (l == 32) snprintf(k, sizeof k, "%u.%u.%u.%u ", d & 255, d >> 8 & 255, d >> 16 & 255, d >> 24);
    else snprintf(k, sizeof k, "%u.%u.%u.%u/%d ", d & 255, d >> 8 & 255, d >> 16 & 255, d >> 24, l);
    if (len + strlen(k) + 1 > cap) keys = realloc(keys, cap *= 2);
    if (keys) { strcpy(keys + len, k); len += strlen(k); }
  }
  fclose(f);
  return keys;
}

static int has_key(const char *keys, const char *p) {
  char k[128];
  size_t n = strlen(p);
  snprintf(k, sizeof k, " %s ", p);
  if (strstr(keys, k)) return 1;
  if (n > 3 && strcmp(p + n - 3, "/32") == 0) { snprintf(k, sizeof k, " %.*s ", (int)(n - 3), p); return !!strstr(keys, k); }
  return 0;
}

/* One poll of a speaker: 1 when it has converged. */
static int poll_speaker(struct speaker *s) {
  char err[512];
  free(s->shown);
  s->shown = NULL;
  s->n_bgp = s->n_est = 0;
  s->missing[0] = 0;
  if (s->c.fd < 0 && conn_open(&s->c, s->sock, err, sizeof err)) { s->shown = strdup(err); return 0; }
  char *out = NULL;
  size_t ol = 0;
  if (command(&s->c, "show protocols\n", &out, &ol)) {
    close(s->c.fd);
    s->c.fd = -1;
    free(out);
    s->shown = strdup("dlbird: no reply to show protocols\n");
    return 0;
  }
  size_t bl = strlen(s->c.banner);
  s->shown = malloc(bl + ol + 2);
  sprintf(s->shown, "%s\n%s", s->c.banner, out ? out : "");
  for (char *l = out, *nl; l && *l; l = nl + 1) {
    nl = strchr(l, '\n');
    *nl = 0;
    char name[128], proto[32], table[64], state[32];
    if (sscanf(l, "%127s %31s %63s %31s", name, proto, table, state) >= 2 && !strcmp(proto, "BGP")) {
      s->n_bgp++;
      if (!strcmp(state, "up") && strstr(l, "Established")) s->n_est++;
    }
  }
  free(out);
  if (!s->n_bgp || s->n_est != s->n_bgp) return 0;
  if (!s->npfx) return 1;
  char *keys = NULL;
  if ((s->pid = ns_pid(s->ns, s->pid))) keys = route_keys(s->pid);
  if (!keys || ns_pid(s->ns, s->pid) != s->pid) { free(keys); keys = strdup(" "); } /* no process: all missing */
  for (int i = 0; i < s->npfx; i++)
    if (!has_key(keys, s->pfx[i]) && strlen(s->missing) + strlen(s->pfx[i]) + 2 < sizeof s->missing)
      strcat(strcat(s->missing, " "), s->pfx[i]);
  free(keys);
  return !s->missing[0];
}

static int wait_all(int argc, char **argv) {
  static struct speaker sp[MAX_SPEAKERS];
  int n = 0, i = 0;
  double t0 = now();
  while (i < argc) {
    if (n == MAX_SPEAKERS || i + 4 > argc) { fprintf(stderr, "dlbird wait: NS SOCK SECONDS NPREFIX PREFIX...\n"); return 2; }
    struct speaker *s = &sp[n++];
    char *e1, *e2;
    long secs = strtol(argv[i + 2], &e1, 10), np = strtol(argv[i + 3], &e2, 10);
    if (*e1 || *e2 || secs < 0 || np < 0 || i + 4 + np > argc || !lab_ctl(argv[i + 1]) || strchr(argv[i], '/')) {
      fprintf(stderr, "dlbird wait: bad speaker %s %s %s %s\n", argv[i], argv[i + 1], argv[i + 2], argv[i + 3]);
      return 2;
    }
    s->ns = argv[i]; s->sock = argv[i + 1]; s->deadline = t0 + secs; s->npfx = np; s->pfx = argv + i + 4; s->c.fd = -1;
    i += 4 + np;
  }
  int left = n, failed = -1;
  while (left && failed < 0) {
    for (i = 0; i < n; i++) {
      struct speaker *s = &sp[i];
      if (s->done) continue;
      if (poll_speaker(s)) { s->done = 1; s->end = now(); left--; continue; }
      if (now() >= s->deadline && failed < 0) failed = i;
    }
    /* 25 ms: a session's end is seen 12 ms late on average (at 0.1 s it was 50 ms, on the
     * critical path of every BGP build); a poll is a request on each control socket. */
    if (left && failed < 0) usleep(25000);
  }
  for (i = 0; i < n; i++) { /* a speaker still polled when another's deadline passed: no line */
    if (sp[i].done || i == failed) printf("%d\t%d\t%.6f\t%.6f\n", i + 1, !sp[i].done, sp[i].done ? sp[i].end : now(), t0);
    if (sp[i].c.fd >= 0) close(sp[i].c.fd);
  }
  if (failed < 0) return 0;
  struct speaker *s = &sp[failed];
  fprintf(stderr, "BGP in %s not converged within %.0fs (%d/%d sessions Established%s%s):\n%s", s->ns,
          s->deadline - t0, s->n_est, s->n_bgp, s->missing[0] ? "; missing routes:" : "", s->missing,
          s->shown ? s->shown : "");
  return 1;
}

int main(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "wait")) return wait_all(argc - 2, argv + 2);
  if (argc >= 4 && !strcmp(argv[1], "dump") && argc % 2 == 0) {
    int rc = 0;
    for (int i = 2; i < argc; i += 2) rc |= dump_one(argv[i], argv[i + 1]);
    return rc;
  }
  fprintf(stderr, "usage: dlbird wait (NS SOCK SECONDS NPREFIX PREFIX...)... | dlbird dump (SOCK FILE)...\n");
  return 2;
}
