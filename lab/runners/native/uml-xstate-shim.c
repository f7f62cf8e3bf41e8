/*
 * LD_PRELOAD shim for Debian's linux.uml 6.1 on hosts whose CPUs have a large XSAVE area
 * (AVX-512 + AMX tiles: ~11 KiB). UML 6.1 moves FP state with PTRACE_{GET,SET}REGSET
 * NT_X86_XSTATE using its own, smaller buffer; newer host kernels refuse a SETREGSET that is
 * not the full user XSAVE size (xstateregs_set: count != fpu_user_cfg.max_size -> EFAULT),
 * so every guest process dies with "ptrace set fp regs failed, errno = 14".
 * Upstream UML sizes the buffer from the host (fixed after 6.1); this shim does the same from
 * the outside: it reads the full state into a large buffer, overlays the bytes UML owns and
 * writes the full state back. Hosts with a small XSAVE area never take the slow path.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifndef NT_X86_XSTATE
#define NT_X86_XSTATE 0x202
#endif

typedef long (*ptrace_fn)(int, pid_t, void *, void *);

long ptrace(enum __ptrace_request req, ...)
{
	static ptrace_fn real;
	static char big[65536] __attribute__((aligned(64)));
	va_list ap;
	pid_t pid;
	void *addr, *data;

	va_start(ap, req);
	pid = va_arg(ap, pid_t);
	addr = va_arg(ap, void *);
	data = va_arg(ap, void *);
	va_end(ap);
	if (!real)
		real = (ptrace_fn)dlsym(RTLD_NEXT, "ptrace");

	if ((req == PTRACE_GETREGSET || req == PTRACE_SETREGSET) &&
	    (unsigned long)addr == NT_X86_XSTATE && data) {
		struct iovec *iov = data;
		struct iovec full = { big, sizeof(big) };
		long r = real(PTRACE_GETREGSET, pid, addr, &full);

		if (r < 0)
			return r;
		if (iov->iov_len >= full.iov_len)
			return real(req, pid, addr, data);
		if (req == PTRACE_GETREGSET) {
			memcpy(iov->iov_base, big, iov->iov_len);
			return 0;
		}
		memcpy(big, iov->iov_base, iov->iov_len);
		return real(PTRACE_SETREGSET, pid, addr, &full);
	}
	return real(req, pid, addr, data);
}
