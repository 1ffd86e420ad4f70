// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Process control for a proc guest: start it (with the handshake of
 * proc/guest_proto.h), stop it, resume it, read its pages, notice its death.
 *
 * Suspend is SIGSTOP, then a wait until every thread of the guest is in group
 * stop. How the wait learns it:
 *   - the daemon is the guest's parent (REMUS_PROC_F_CHILD): waitid() on the
 *     pidfd with WSTOPPED | WNOWAIT. The kernel reports the stop once the last
 *     thread has stopped, so there is nothing to poll. WNOWAIT leaves the
 *     report (and any exit) for the daemon's own reaper, which must not
 *     reap the guest with waitpid(-1, ...) while a handle is open.
 *   - otherwise: /proc/PID/task/TID/stat of every thread must say 'T'.
 * Both end with -ESRCH if the guest dies meanwhile. Not ptrace
 * (PTRACE_SEIZE + PTRACE_INTERRUPT): bench/dirty/bench-suspend stops a guest
 * that mostly sleeps in about 20 us either way; for a guest that keeps every
 * CPU busy ptrace's median was lower in most runs on a loaded host, with
 * tails as long (bench/dirty/results.md). Against that, a tracer must field
 * every signal the guest gets (the guest stays stopped until the daemon
 * re-injects it), make all its ptrace calls from one thread, follow new
 * threads, and keeps debuggers off the guest. What ptrace would also buy:
 * immunity to a stray SIGCONT.
 *
 * Limits of SIGSTOP: anyone may SIGCONT the guest mid-checkpoint, and
 * asynchronous writers into the guest's memory (io_uring, AIO, another
 * process's process_vm_writev) keep writing while it is stopped. A guest
 * must use neither on its region.
 *
 * Reads use process_vm_readv with up to IOV_MAX iovecs on each side per call,
 * adjacent pages merged into one iovec.
 */
#ifndef REMUS_PROC_PROC_H
#define REMUS_PROC_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proc/guest_proto.h"
#include "proc/range.h"

/* The caller is the guest's parent and reaps it itself (see above). */
#define REMUS_PROC_F_CHILD	(1u << 0)
/* Wait for the stop by reading /proc even for a child (for benchmarks). */
#define REMUS_PROC_F_POLL	(1u << 1)
#define REMUS_PROC_F_ALL	(REMUS_PROC_F_CHILD | REMUS_PROC_F_POLL)

struct remus_proc_stats {
	uint64_t suspends;
	uint64_t suspend_last_ns;	/* SIGSTOP sent .. all threads stopped */
	uint64_t suspend_max_ns;
	uint64_t stop_checks;		/* polls or waits until stopped, summed */
	uint64_t read_calls;		/* process_vm_readv calls */
	uint64_t read_bytes;
};

struct remus_proc;

/* Opens a handle on a running guest: 0, -ESRCH, -EINVAL, -ENOMEM. */
int remus_proc_open(struct remus_proc **out, pid_t pid, unsigned int flags);
/* Does not resume a suspended guest, nor signal it. */
void remus_proc_close(struct remus_proc *p);

pid_t remus_proc_pid(const struct remus_proc *p);
/* Polls readable once the guest has exited: for the engine's event loop. */
int remus_proc_pidfd(const struct remus_proc *p);
/* 0 while the guest lives (a zombie does not), -ESRCH after. */
int remus_proc_check(const struct remus_proc *p);
bool remus_proc_suspended(const struct remus_proc *p);
void remus_proc_get_stats(const struct remus_proc *p,
			  struct remus_proc_stats *st);

/*
 * Stops the guest and returns once all its threads are stopped: 0, -ESRCH if
 * it died, -ETIMEDOUT after @timeout_ms (negative: wait for ever) with the
 * guest left stopping (call resume to undo). If already suspended: at once,
 * 0 or -ESRCH.
 *
 * For a child, the wait is a blocking waitid(), woken by the last thread to
 * stop: in the calling thread without a deadline, else (after a 50 us spin)
 * in a waiter thread of the handle's own (started at the first such wait,
 * detached, all signals blocked) that answers through a pipe the caller
 * polls until its deadline. After close the thread leaves at once, or, if
 * a timed-out wait still holds it in waitid(), when the guest next stops,
 * dies or is reaped. Polling for the stop instead (waitid WNOHANG, or /proc for
 * a guest that is not our child) pays the scheduler's delays: 10 to 100
 * times slower on a busy host (bench/dirty/results.md).
 */
int remus_proc_suspend(struct remus_proc *p, int timeout_ms);
/* SIGCONT: 0 or -ESRCH. Marks the guest not suspended either way. */
int remus_proc_resume(struct remus_proc *p);

/*
 * Reads @len bytes at @addr in the guest into @dst: 0, -EFAULT if part of it
 * is not mapped, -ESRCH if the guest is gone.
 */
int remus_proc_read(struct remus_proc *p, uint64_t addr, void *dst, size_t len);

/* dst + idx[i] * page_size instead of dst + i * page_size */
#define REMUS_PROC_READ_MIRROR	(1u << 0)

/*
 * Reads the pages with indexes @idx[0..n) (proc/range.h) into @dst, packed
 * in order, or with REMUS_PROC_READ_MIRROR each at its own offset in an image
 * of the whole ranges. 0, -ERANGE for an index past the ranges, -EFAULT,
 * -ESRCH.
 */
int remus_proc_read_pages(struct remus_proc *p,
			  const struct remus_range *ranges, unsigned int nr,
			  const uint64_t *idx, size_t n, void *dst,
			  unsigned int flags);

struct remus_spawn {
	const char *const *argv;	/* argv[0] is looked up in PATH */
	const char *const *env;		/* extra NAME=value, NULL-ended; or NULL */
	const char *image;		/* restore from this image, or NULL */
	int timeout_ms;			/* for the handshake; negative: none */
};

/*
 * Starts a guest with the handshake of proc/guest_proto.h and waits for its
 * descriptor. The caller becomes its parent (open it with REMUS_PROC_F_CHILD)
 * and must reap it. On failure the child, if any, is killed and reaped.
 * -EPIPE: the guest exited or closed the pipe before describing itself.
 */
int remus_proc_spawn(const struct remus_spawn *s, pid_t *pid,
		     struct remus_guest_desc *desc);

#endif /* REMUS_PROC_PROC_H */
