// SPDX-License-Identifier: LGPL-2.1-or-later
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc/proc.h"

#ifndef IOV_MAX
#define IOV_MAX 1024
#endif

/*
 * Polling for a stop (the /proc wait; the start of a child's wait with a
 * deadline): spin, yielding, this long; then, for /proc, sleep between
 * checks from the first interval to the last, doubling.
 */
#define STOP_SPIN_NS		50000
#define STOP_SLEEP_MIN_NS	20000
#define STOP_SLEEP_MAX_NS	1000000

struct remus_proc {
	pid_t pid;
	int pidfd;
	unsigned int flags;
	bool suspended;
	size_t page_size;
	DIR *tasks;			/* /proc/PID/task, for the polling wait */
	/* the waiter thread: a blocking waitid() for a wait with a deadline */
	bool waiter_up;
	int arm;			/* to the waiter: a generation */
	int done;			/* from the waiter: struct wait_msg */
	uint64_t gen;
	struct iovec liov[IOV_MAX];
	struct iovec riov[IOV_MAX];
	struct remus_proc_stats stats;
};

static int sys_pidfd_open(pid_t pid)
{
	return syscall(SYS_pidfd_open, pid, 0);
}

static int sys_pidfd_send_signal(int pidfd, int sig)
{
	return syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

struct wait_msg {
	uint64_t gen;
	int64_t ret;
};

/* What the waiter thread owns: it outlives the handle if it must. */
struct waiter {
	int pidfd;		/* a dup of the handle's */
	int arm;		/* read end */
	int done;		/* write end */
};

static int pidfd_stopped(int pidfd, bool block);

/*
 * A deadline and a blocking waitid() do not mix, and polling costs the
 * scheduler's delays on a busy host (bench/dirty/results.md). So a thread
 * of ours blocks in waitid() and answers through a pipe, which the caller
 * polls with its deadline. Each wait carries a generation: an answer to an
 * earlier wait that timed out is no answer to this one.
 *
 * The thread is detached and owns its end of things: closing the handle
 * closes the caller's ends, and the thread leaves when it next finds them
 * closed: at once if it waits for work, else once the guest stops, dies or
 * is reaped. (Cancelling it instead would need libgcc_s at run time.)
 */
static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	struct wait_msg m;

	while (read(w->arm, &m.gen, sizeof(m.gen)) == sizeof(m.gen)) {
		int ret;

		do
			ret = pidfd_stopped(w->pidfd, true);
		while (!ret);
		m.ret = ret;
		/* SIGPIPE is blocked here: a closed handle is EPIPE */
		if (write(w->done, &m, sizeof(m)) != sizeof(m))
			break;
	}
	close(w->pidfd);
	close(w->arm);
	close(w->done);
	free(w);
	return NULL;
}

static int start_waiter(struct remus_proc *p)
{
	int arm[2] = { -1, -1 }, done[2] = { -1, -1 }, ret;
	pthread_attr_t attr;
	sigset_t all, old;
	struct waiter *w;
	pthread_t th;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->pidfd = fcntl(p->pidfd, F_DUPFD_CLOEXEC, 0);
	if (w->pidfd < 0 || pipe2(arm, O_CLOEXEC) < 0 || pipe2(done, O_CLOEXEC) < 0) {
		ret = -errno;
		goto err;
	}
	w->arm = arm[0];
	w->done = done[1];
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* the daemon's signals are not for this thread */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -pthread_create(&th, &attr, waiter_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (ret)
		goto err;
	p->arm = arm[1];
	p->done = done[0];
	p->waiter_up = true;
	return 0;
err:
	if (w->pidfd >= 0)
		close(w->pidfd);
	for (int i = 0; i < 2; i++) {
		if (arm[i] >= 0)
			close(arm[i]);
		if (done[i] >= 0)
			close(done[i]);
	}
	free(w);
	return ret;
}

static void stop_waiter(struct remus_proc *p)
{
	if (!p->waiter_up)
		return;
	close(p->arm);
	close(p->done);
	p->waiter_up = false;
}

/* 1: stopped, -ESRCH: gone, -ETIMEDOUT, or another -errno. */
static int wait_by_thread(struct remus_proc *p, uint64_t deadline)
{
	uint64_t gen = ++p->gen;
	int ret;

	if (!p->waiter_up && (ret = start_waiter(p)))
		return ret;
	if (write(p->arm, &gen, sizeof(gen)) != sizeof(gen))
		return -EIO;
	for (;;) {
		struct pollfd pfd = { .fd = p->done, .events = POLLIN };
		uint64_t now = now_ns(), left;
		struct timespec ts;
		struct wait_msg m;

		if (now >= deadline)
			return -ETIMEDOUT;
		left = deadline - now;
		ts.tv_sec = left / 1000000000ULL;
		ts.tv_nsec = left % 1000000000ULL;
		ret = ppoll(&pfd, 1, &ts, NULL);
		if (ret < 0 && errno != EINTR)
			return -errno;
		if (ret <= 0)
			continue;
		if (read(p->done, &m, sizeof(m)) != sizeof(m))
			return -EIO;
		if (m.gen == gen)
			return m.ret;
	}
}

int remus_proc_open(struct remus_proc **out, pid_t pid, unsigned int flags)
{
	struct remus_proc *p;
	char path[64];
	int fd, ret;

	*out = NULL;
	if (pid <= 0 || flags & ~REMUS_PROC_F_ALL)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->pid = pid;
	p->flags = flags;
	p->page_size = sysconf(_SC_PAGESIZE);
	p->pidfd = sys_pidfd_open(pid);
	if (p->pidfd < 0) {
		ret = -errno;
		goto err;
	}
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		ret = errno == ENOENT ? -ESRCH : -errno;
		goto err;
	}
	p->tasks = fdopendir(fd);
	if (!p->tasks) {
		ret = -errno;
		close(fd);
		goto err;
	}
	*out = p;
	return 0;
err:
	remus_proc_close(p);
	return ret;
}

void remus_proc_close(struct remus_proc *p)
{
	if (!p)
		return;
	stop_waiter(p);
	if (p->tasks)
		closedir(p->tasks);
	if (p->pidfd >= 0)
		close(p->pidfd);
	free(p);
}

pid_t remus_proc_pid(const struct remus_proc *p)
{
	return p->pid;
}

int remus_proc_pidfd(const struct remus_proc *p)
{
	return p->pidfd;
}

bool remus_proc_suspended(const struct remus_proc *p)
{
	return p->suspended;
}

void remus_proc_get_stats(const struct remus_proc *p,
			  struct remus_proc_stats *st)
{
	*st = p->stats;
}

int remus_proc_check(const struct remus_proc *p)
{
	struct pollfd pfd = { .fd = p->pidfd, .events = POLLIN };
	int ret;

	/* Even a poll that does not wait fails on a signal that comes in. */
	do
		ret = poll(&pfd, 1, 0);
	while (ret < 0 && errno == EINTR);
	if (ret < 0)
		return -errno;
	return pfd.revents & (POLLIN | POLLHUP) ? -ESRCH : 0;
}

/* 1: the group stop is complete, 0: not yet, -ESRCH: the child is gone. */
static int pidfd_stopped(int pidfd, bool block)
{
	siginfo_t si;
	int ret;

	memset(&si, 0, sizeof(si));
	/* A signal the caller handles (remusd's stop, without SA_RESTART)
	 * is no answer: SIGSTOP went out, the stop still comes. */
	do
		ret = waitid(P_PIDFD, pidfd, &si, WSTOPPED | WEXITED | WNOWAIT |
			     (block ? 0 : WNOHANG));
	while (ret < 0 && errno == EINTR);
	if (ret < 0)
		return errno == ECHILD ? -ESRCH : -errno;
	if (!si.si_pid)
		return 0;
	if (si.si_code == CLD_STOPPED)
		return 1;
	if (si.si_code == CLD_EXITED || si.si_code == CLD_KILLED ||
	    si.si_code == CLD_DUMPED)
		return -ESRCH;
	/* CLD_CONTINUED or a ptrace report: not our stop yet */
	return 0;
}

/* State letter of /proc/PID/task/TID/stat; 0 if the thread is gone. */
static char thread_state(int dirfd, const char *tid)
{
	char path[64], buf[512], *paren;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/stat", tid);
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* comm may hold ')' and spaces: the state follows the last ')' */
	paren = strrchr(buf, ')');
	if (!paren || paren[1] != ' ')
		return 0;
	return paren[2];
}

/* 1: every thread is stopped, 0: not yet, -ESRCH: the guest is gone. */
static int tasks_stopped(struct remus_proc *p)
{
	struct dirent *de;
	int seen = 0, ret;

	rewinddir(p->tasks);
	while ((de = readdir(p->tasks))) {
		char st;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		st = thread_state(dirfd(p->tasks), de->d_name);
		/* a thread that is exiting runs no more user code */
		if (!st || st == 'Z' || st == 'X' || st == 'x')
			continue;
		seen++;
		if (st != 'T' && st != 't')
			return 0;
	}
	ret = remus_proc_check(p);
	if (ret)
		return ret;
	/* every thread gone but the process not yet reported dead */
	return seen ? 1 : 0;
}

int remus_proc_suspend(struct remus_proc *p, int timeout_ms)
{
	bool by_wait = p->flags & REMUS_PROC_F_CHILD &&
		       !(p->flags & REMUS_PROC_F_POLL);
	uint64_t t0, deadline = 0, now;
	long nap = STOP_SLEEP_MIN_NS;
	int ret;

	if (p->suspended)
		return remus_proc_check(p);
	t0 = now_ns();
	if (timeout_ms >= 0)
		deadline = t0 + (uint64_t)timeout_ms * 1000000ULL;
	if (sys_pidfd_send_signal(p->pidfd, SIGSTOP) < 0)
		return -errno;
	/*
	 * A blocking waitid() is the cheapest wait of all: the last thread
	 * to stop wakes us. With a deadline, our waiter thread blocks in it.
	 */
	if (by_wait && timeout_ms >= 0) {
		/*
		 * Most stops take a few tens of microseconds: a short spin
		 * catches them without the two wake-ups of the thread.
		 */
		do {
			p->stats.stop_checks++;
			ret = pidfd_stopped(p->pidfd, false);
			if (ret < 0)
				return ret;
			if (ret)
				goto stopped;
			sched_yield();
		} while (now_ns() - t0 < STOP_SPIN_NS);
		ret = wait_by_thread(p, deadline);
		if (ret < 0)
			return ret;
		goto stopped;
	}
	for (;;) {
		if (by_wait)
			ret = pidfd_stopped(p->pidfd, true);
		else
			ret = tasks_stopped(p);
		p->stats.stop_checks++;
		if (ret < 0)
			return ret;
		if (ret)
			break;
		now = now_ns();
		if (deadline && now >= deadline)
			return -ETIMEDOUT;
		/*
		 * Most stops take a few microseconds: spin (yielding, in case
		 * the guest shares our CPU) before sleeping between checks.
		 */
		if (now - t0 < STOP_SPIN_NS) {
			sched_yield();
		} else {
			struct timespec ts = { 0, nap };

			nanosleep(&ts, NULL);
			if (nap < STOP_SLEEP_MAX_NS)
				nap *= 2;
		}
	}
stopped:
	now = now_ns();
	p->suspended = true;
	p->stats.suspends++;
	p->stats.suspend_last_ns = now - t0;
	if (p->stats.suspend_last_ns > p->stats.suspend_max_ns)
		p->stats.suspend_max_ns = p->stats.suspend_last_ns;
	return 0;
}

int remus_proc_resume(struct remus_proc *p)
{
	/* a guest that cannot be sent SIGCONT is not ours to resume either */
	p->suspended = false;
	if (sys_pidfd_send_signal(p->pidfd, SIGCONT) < 0)
		return -errno;
	/* a zombie takes signals without complaint */
	return remus_proc_check(p);
}

static int readv_errno(int err)
{
	/* ENOMEM: the kernel's word for an address that is not mapped */
	if (err == ENOMEM)
		return -EFAULT;
	return -err;
}

static int flush_reads(struct remus_proc *p, unsigned int nl, unsigned int nr,
		       size_t bytes)
{
	ssize_t n;

	n = process_vm_readv(p->pid, p->liov, nl, p->riov, nr, 0);
	p->stats.read_calls++;
	if (n < 0)
		return readv_errno(errno);
	p->stats.read_bytes += n;
	/* a short read stops at the first remote byte that is not mapped */
	return (size_t)n == bytes ? 0 : -EFAULT;
}

/*
 * process_vm_readv names the guest by PID: a guest that died and whose PID
 * was reused could have been read instead. The pidfd tells after the fact.
 */
static int check_after_read(struct remus_proc *p, int ret)
{
	int alive = remus_proc_check(p);

	return alive ? alive : ret;
}

int remus_proc_read(struct remus_proc *p, uint64_t addr, void *dst, size_t len)
{
	/* below the kernel's per-call limit (MAX_RW_COUNT) */
	const size_t chunk = 1UL << 30;
	int ret = 0;

	while (len && !ret) {
		size_t n = len < chunk ? len : chunk;

		p->liov[0] = (struct iovec){ dst, n };
		p->riov[0] = (struct iovec){ (void *)(uintptr_t)addr, n };
		ret = flush_reads(p, 1, 1, n);
		addr += n;
		dst = (char *)dst + n;
		len -= n;
	}
	return check_after_read(p, ret);
}

int remus_proc_read_pages(struct remus_proc *p,
			  const struct remus_range *ranges, unsigned int nr,
			  const uint64_t *idx, size_t n, void *dst,
			  unsigned int flags)
{
	const size_t ps = p->page_size;
	unsigned int nl = 0, nrem = 0, r = 0;
	uint64_t r_first = 0, r_pages;
	size_t i, bytes = 0;
	int ret;

	if (flags & ~REMUS_PROC_READ_MIRROR || !nr)
		return -EINVAL;
	r_pages = ranges[0].len / ps;
	for (i = 0; i < n; i++) {
		uint64_t pi = idx[i], addr;
		char *local;
		bool rext, lext;

		/* indexes mostly ascend: keep the range we are in */
		if (pi < r_first || pi >= r_first + r_pages) {
			r_first = 0;
			for (r = 0; r < nr; r++) {
				r_pages = ranges[r].len / ps;
				if (pi < r_first + r_pages)
					break;
				r_first += r_pages;
			}
			if (r == nr)
				return -ERANGE;
		}
		addr = ranges[r].start + (pi - r_first) * ps;
		local = (char *)dst + (flags & REMUS_PROC_READ_MIRROR ? pi : i) * ps;

		rext = nrem && (uintptr_t)p->riov[nrem - 1].iov_base +
				       p->riov[nrem - 1].iov_len == addr;
		lext = nl && (char *)p->liov[nl - 1].iov_base +
				     p->liov[nl - 1].iov_len == local;
		if ((!rext && nrem == IOV_MAX) || (!lext && nl == IOV_MAX)) {
			ret = flush_reads(p, nl, nrem, bytes);
			if (ret)
				return check_after_read(p, ret);
			nl = nrem = 0;
			bytes = 0;
			rext = lext = false;
		}
		if (rext)
			p->riov[nrem - 1].iov_len += ps;
		else
			p->riov[nrem++] = (struct iovec){ (void *)(uintptr_t)addr, ps };
		if (lext)
			p->liov[nl - 1].iov_len += ps;
		else
			p->liov[nl++] = (struct iovec){ local, ps };
		bytes += ps;
	}
	ret = bytes ? flush_reads(p, nl, nrem, bytes) : 0;
	return check_after_read(p, ret);
}

/* environ, minus any REMUS_GUEST_* it carries, plus @extra and ours. */
static char **build_env(const struct remus_spawn *s, int wfd, char *fdvar,
			size_t fdvar_len, char **imgvar)
{
	extern char **environ;
	size_t n = 0, k = 0, i;
	char **env;

	for (i = 0; environ[i]; i++)
		n++;
	for (i = 0; s->env && s->env[i]; i++)
		n++;
	env = calloc(n + 3, sizeof(*env));
	if (!env)
		return NULL;
	for (i = 0; environ[i]; i++) {
		if (!strncmp(environ[i], "REMUS_GUEST_", 12))
			continue;
		env[k++] = environ[i];
	}
	for (i = 0; s->env && s->env[i]; i++)
		env[k++] = (char *)s->env[i];
	snprintf(fdvar, fdvar_len, REMUS_GUEST_ENV_FD "=%d", wfd);
	env[k++] = fdvar;
	*imgvar = NULL;
	if (s->image) {
		size_t len = strlen(REMUS_GUEST_ENV_IMAGE) + strlen(s->image) + 2;

		*imgvar = malloc(len);
		if (!*imgvar) {
			free(env);
			return NULL;
		}
		snprintf(*imgvar, len, REMUS_GUEST_ENV_IMAGE "=%s", s->image);
		env[k++] = *imgvar;
	}
	env[k] = NULL;
	return env;
}

int remus_proc_spawn(const struct remus_spawn *s, pid_t *pidp,
		     struct remus_guest_desc *desc)
{
	char fdvar[64], *imgvar = NULL, **env = NULL;
	int pfd[2], ret, status;
	pid_t pid;

	if (!s->argv || !s->argv[0])
		return -EINVAL;
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	env = build_env(s, pfd[1], fdvar, sizeof(fdvar), &imgvar);
	if (!env) {
		ret = -ENOMEM;
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		goto out;
	}
	if (!pid) {
		/* only async-signal-safe calls between fork and exec */
		if (fcntl(pfd[1], F_SETFD, 0) < 0)
			_exit(127);
		execvpe(s->argv[0], (char *const *)s->argv, env);
		_exit(127);
	}
	close(pfd[1]);
	pfd[1] = -1;
	ret = remus_guest_desc_read(pfd[0], s->timeout_ms, desc);
	if (!ret && desc->pid != pid)
		ret = -EPROTO;
	if (ret) {
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		goto out;
	}
	*pidp = pid;
out:
	close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	free(imgvar);
	free(env);
	return ret;
}
