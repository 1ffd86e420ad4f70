// SPDX-License-Identifier: GPL-2.0
/*
 * Shared by the proc backend's tests (test_dirty, test_proc, test_guest):
 * a TAP runner, and a test guest: a forked child that maps a Remus region
 * with libremus-guest and writes, reads or spins on command.
 *
 * Tests return T_PASS, T_FAIL or T_SKIP; the diagnostic (what was expected
 * and what was seen, or the skip reason) goes out after the result line.
 * Every test cleans up its children, pass or fail, through its out: label.
 */
#ifndef TEST_PROC_UTIL_H
#define TEST_PROC_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../guest/remus_guest.h"
#include "proc/guest_proto.h"
#include "proc/range.h"

enum { T_PASS, T_FAIL, T_SKIP };

struct tctx {
	int arg;
	char msg[1024];
};

struct tcase {
	const char *name;
	int (*fn)(struct tctx *c);
	int arg;
};

static inline void __attribute__((format(printf, 2, 3)))
tmsg(struct tctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
	va_end(ap);
}

/* Needs `int ret` and an `out:` label in the test. */
#define CHECK(c, cond, ...)						\
	do {								\
		if (!(cond)) {						\
			tmsg(c, __VA_ARGS__);				\
			ret = T_FAIL;					\
			goto out;					\
		}							\
	} while (0)

/* Each operand is evaluated once: @got is often a call. */
#define CHECK_EQ(c, exp, got, what)					\
	do {								\
		int64_t __e = (int64_t)(exp), __g = (int64_t)(got);	\
		CHECK(c, __e == __g, "%s: expected %" PRId64 ", saw %"	\
		      PRId64, what, __e, __g);				\
	} while (0)

/* A library call that must return 0. */
#define CHECK_OK(c, call)						\
	do {								\
		int __r = (call);					\
		CHECK(c, __r == 0, "%s: expected 0, saw %d (%s)", #call,\
		      __r, strerror(__r < 0 ? -__r : __r));		\
	} while (0)

#define SKIP(c, ...)							\
	do {								\
		tmsg(c, __VA_ARGS__);					\
		ret = T_SKIP;						\
		goto out;						\
	} while (0)

static inline int tap_run(const struct tcase *t, size_t n)
{
	int failed = 0;
	size_t i;

	/* children inherit unflushed stdio buffers otherwise */
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n1..%zu\n", n);
	for (i = 0; i < n; i++) {
		struct tctx c = { .arg = t[i].arg };
		int ret = t[i].fn(&c);

		if (ret == T_SKIP) {
			printf("ok %zu %s # SKIP %s\n", i + 1, t[i].name, c.msg);
			continue;
		}
		printf("%sok %zu %s\n", ret == T_PASS ? "" : "not ", i + 1,
		       t[i].name);
		if (ret != T_PASS) {
			printf("# %s\n", c.msg[0] ? c.msg : "failed");
			failed++;
		}
		else if (c.msg[0])
			printf("# %s\n", c.msg);
	}
	return failed ? 1 : 0;
}

static inline uint64_t tnow_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static inline void tsleep_us(uint64_t us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static inline uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* ---- the test guest ---- */

#define TG_ADDR		0x300000000000ULL

enum tg_op {
	TG_WRITE = 1,	/* stamp pages idx[] with (val << 32 | idx) */
	TG_READ,	/* read pages idx[] */
	TG_SPIN,	/* ack, then spin for ever: see tg_spin() */
	TG_VFORK,	/* ack, then block in vfork() for val ms: the guest
			 * cannot stop meanwhile (uninterruptible wait) */
	TG_EXIT,
};

struct tg_cmd {
	uint32_t op;
	uint32_t val;
	uint64_t n;
};

struct tguest {
	pid_t pid;
	int cmd;			/* to the child */
	int ack;			/* from the child */
	struct remus_guest_desc desc;
	size_t ps;
};

/* Words of the app area's first page that TG_SPIN advances: one a thread. */
#define TG_SPIN_MAX_THREADS	8

struct tg_spin_arg {
	volatile uint64_t *word;
	uint64_t *pages;		/* region pages the writers may hit */
	uint64_t npages;		/* 0: only the counter */
	uint64_t seed;
	size_t ps;
};

static inline void *tg_spin_thread(void *p)
{
	struct tg_spin_arg *a = p;
	uint64_t seed = a->seed, seq = 0;

	for (;;) {
		++*a->word;
		if (a->npages) {
			uint64_t r = xorshift64(&seed);
			volatile uint64_t *w = (volatile uint64_t *)
				((char *)a->pages + (r % a->npages) * a->ps);

			/* anywhere in the page: the whole page must be copied */
			w[(r >> 32) % (a->ps / 8)] = ++seq;
		}
	}
	return NULL;
}

static inline int read_full(int fd, void *buf, size_t len)
{
	while (len) {
		ssize_t n = read(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf = (char *)buf + n;
		len -= n;
	}
	return 0;
}

static inline int write_full(int fd, const void *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf = (const char *)buf + n;
		len -= n;
	}
	return 0;
}

static __attribute__((noinline)) void tg_vfork_sleep(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	if (!vfork()) {
		/* only syscalls here: the memory is the parent's */
		syscall(SYS_nanosleep, &ts, NULL);
		_exit(0);
	}
}

static inline void __attribute__((noreturn))
tg_child(int cmd, int ack, int desc, uint64_t size, unsigned int gflags)
{
	struct remus_guest_opts o = {
		.addr = TG_ADDR, .size = size, .flags = gflags | REMUS_GUEST_F_NO_ENV,
		.desc_fd = desc,
	};
	struct remus_guest g;
	struct tg_cmd c;
	uint64_t *idx = NULL, i;
	char a = 1;

	if (remus_guest_init(&g, &o))
		_exit(1);
	for (;;) {
		if (read_full(cmd, &c, sizeof(c)))
			_exit(0);
		free(idx);
		idx = c.n ? malloc(c.n * sizeof(*idx)) : NULL;
		if (c.n && (!idx || read_full(cmd, idx, c.n * sizeof(*idx))))
			_exit(1);
		switch (c.op) {
		case TG_WRITE:
			for (i = 0; i < c.n; i++)
				*(volatile uint64_t *)((char *)g.base + idx[i] * g.page_size) =
					(uint64_t)c.val << 32 | idx[i];
			break;
		case TG_READ:
			for (i = 0; i < c.n; i++)
				(void)*(volatile uint64_t *)((char *)g.base +
							     idx[i] * g.page_size);
			break;
		case TG_SPIN: {
			/* val: threads; idx[0], idx[1]: first page and count */
			static struct tg_spin_arg args[TG_SPIN_MAX_THREADS];
			unsigned int t, nt = c.val ? c.val : 1;
			pthread_t th;

			if (nt > TG_SPIN_MAX_THREADS)
				_exit(1);
			for (t = 0; t < nt; t++) {
				args[t].word = (volatile uint64_t *)g.app + t;
				args[t].pages = c.n >= 2 ? (uint64_t *)((char *)g.base +
							idx[0] * g.page_size) : NULL;
				args[t].npages = c.n >= 2 ? idx[1] : 0;
				args[t].seed = 0x9e3779b97f4a7c15ULL * (t + 1);
				args[t].ps = g.page_size;
			}
			if (write_full(ack, &a, 1))
				_exit(1);
			for (t = 1; t < nt; t++)
				pthread_create(&th, NULL, tg_spin_thread, &args[t]);
			tg_spin_thread(&args[0]);
			break;
		}
		case TG_VFORK:
			if (write_full(ack, &a, 1))
				_exit(1);
			tg_vfork_sleep(c.val);
			break;
		case TG_EXIT:
			_exit(0);
		default:
			_exit(1);
		}
		if (write_full(ack, &a, 1))
			_exit(1);
	}
}

/* 0, or -errno; the child is the caller's (tg_stop() reaps it). */
static inline int tg_start(struct tguest *tg, uint64_t size, unsigned int gflags)
{
	int cmd[2], ack[2], desc[2], ret;

	memset(tg, 0, sizeof(*tg));
	tg->pid = -1;
	tg->ps = sysconf(_SC_PAGESIZE);
	if (pipe2(cmd, O_CLOEXEC) || pipe2(ack, O_CLOEXEC) || pipe2(desc, O_CLOEXEC))
		return -errno;
	fflush(NULL);
	tg->pid = fork();
	if (tg->pid < 0)
		return -errno;
	if (!tg->pid) {
		close(cmd[1]);
		close(ack[0]);
		close(desc[0]);
		tg_child(cmd[0], ack[1], desc[1], size, gflags);
	}
	close(cmd[0]);
	close(ack[1]);
	close(desc[1]);
	tg->cmd = cmd[1];
	tg->ack = ack[0];
	ret = remus_guest_desc_read(desc[0], 5000, &tg->desc);
	close(desc[0]);
	return ret;
}

static inline int tg_do(struct tguest *tg, enum tg_op op, uint32_t val,
			const uint64_t *idx, uint64_t n)
{
	struct tg_cmd c = { .op = op, .val = val, .n = n };
	char a;

	if (write_full(tg->cmd, &c, sizeof(c)) ||
	    (n && write_full(tg->cmd, idx, n * sizeof(*idx))) ||
	    read_full(tg->ack, &a, 1))
		return -EPIPE;
	return 0;
}

static inline void tg_stop(struct tguest *tg)
{
	if (tg->pid > 0) {
		kill(tg->pid, SIGKILL);
		while (waitpid(tg->pid, NULL, 0) < 0 && errno == EINTR)
			;
		close(tg->cmd);
		close(tg->ack);
	}
	tg->pid = -1;
}

/* The whole region as one range. */
static inline struct remus_range tg_range(const struct tguest *tg)
{
	return (struct remus_range){ tg->desc.addr, tg->desc.size };
}

#endif /* TEST_PROC_UTIL_H */
