/*
 * dlinit: the system calls of a User-Mode Linux guest's start and end (lab/runners/uml-init.sh),
 * made by one process each — where `mount`, `mkdir`, `ip`, `stty`, `uname`, `sync` and
 * `poweroff` cost a process start apiece (25-230 ms inside UML).
 *
 * usage: dlinit setup JOBDIR
 *   mounts proc, sysfs, devtmpfs (/dev), a tmpfs on /run (with /run/netns, /run/dl-job, /run/tmp),
 *   a tmpfs on /lib/modules with the UML module tree of the running kernel bound by hostfs at
 *   /lib/modules/<release> (the host's /lib/modules is never written), bpffs on /sys/fs/bpf, the
 *   host's JOBDIR by hostfs on /run/dl-job, and brings lo up. devtmpfs, bpffs and lo may fail
 *   (said on stderr); anything else is exit 1.
 * usage: dlinit finish RC
 *   flushes the file systems (evidence on hostfs), writes the summary line
 *   {"summary":true,"rc":RC,"kernel":"<release>"} on /dev/tty1 (the host's fd 3) in raw mode,
 *   RC to /proc/exitcode (linux.uml exits with it) and powers off. Does not return.
 * The same steps as the shell fallback in uml-init.sh; mount(2) takes the hostfs host path as its
 * data, as `mount -t hostfs -o PATH` passes it (https://docs.kernel.org/virt/uml/user_mode_linux_howto_v2.html).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <termios.h>
#include <unistd.h>

static int bad;

static void mnt(const char *type, const char *src, const char *target, const char *data, int optional)
{
	if (mount(src, target, type, 0, data) == 0) return;
	fprintf(stderr, "dlinit: mount %s on %s: %s\n", type, target, strerror(errno));
	if (!optional) bad = 1;
}

static void dir(const char *path)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST) { fprintf(stderr, "dlinit: mkdir %s: %s\n", path, strerror(errno)); bad = 1; }
}

static void lo_up(void)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	strcpy(ifr.ifr_name, "lo");
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0) { fprintf(stderr, "dlinit: lo: %s\n", strerror(errno)); return; }
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) fprintf(stderr, "dlinit: lo up: %s\n", strerror(errno));
	close(s);
}

static int setup(const char *job)
{
	struct utsname u;
	char mods[512], host[512];
	uname(&u);
	mnt("proc", "proc", "/proc", NULL, 0);
	mnt("sysfs", "sysfs", "/sys", NULL, 0);
	mnt("devtmpfs", "devtmpfs", "/dev", NULL, 1);
	if (access("/dev/fd", F_OK) < 0 && symlink("/proc/self/fd", "/dev/fd") < 0) fprintf(stderr, "dlinit: /dev/fd: %s\n", strerror(errno));
	mnt("tmpfs", "tmpfs", "/run", NULL, 0);
	dir("/run/netns");
	dir("/run/dl-job");
	dir("/run/tmp");
	snprintf(mods, sizeof mods, "/lib/modules/%s", u.release);
	snprintf(host, sizeof host, "/usr/lib/uml/modules/%s", u.release);
	mnt("tmpfs", "tmpfs", "/lib/modules", NULL, 0);
	dir(mods);
	mnt("hostfs", "hostfs", mods, host, 0);
	mnt("bpf", "bpf", "/sys/fs/bpf", NULL, 1);
	mnt("hostfs", "hostfs", "/run/dl-job", job, 0);
	lo_up();
	return bad;
}

static void finish(const char *rc)
{
	struct utsname u;
	char line[256];
	uname(&u);
	sync();
	int fd = open("/dev/tty1", O_WRONLY | O_NOCTTY | O_CLOEXEC);
	if (fd >= 0) {
		struct termios t;
		if (tcgetattr(fd, &t) == 0) { cfmakeraw(&t); tcsetattr(fd, TCSANOW, &t); }
		int n = snprintf(line, sizeof line, "{\"summary\":true,\"rc\":%d,\"kernel\":\"%s\"}\n", atoi(rc), u.release);
		if (write(fd, line, n) < 0) { /* the host fails closed without the line */ }
		close(fd);
	}
	fd = open("/proc/exitcode", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		int n = snprintf(line, sizeof line, "%d\n", atoi(rc));
		if (write(fd, line, n) < 0) { /* linux.uml then exits 0: the summary still says rc */ }
		close(fd);
	}
	sync();
	reboot(RB_POWER_OFF);
	_exit(1);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "setup")) return setup(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "finish")) finish(argv[2]);
	fprintf(stderr, "usage: dlinit setup JOBDIR | dlinit finish RC\n");
	return 2;
}
