/* SPDX-License-Identifier: GPL-2.0 */
/*
 * engbench: the epoch engine's benchmarks (bench/engine/README in run.sh's
 * header and results.md). Shared pieces: a forked guest the harness can
 * command, a backend that wraps the library's proc backend to make every
 * epoch dirty an exact set of pages and to time what surrounds the pause,
 * a backup in a child process on loopback, the engine in a thread,
 * statistics.
 */
#ifndef ENGBENCH_H
#define ENGBENCH_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "backend_proc.h"
#include "proc/dirty.h"
#include "proc/proc.h"
#include "remus.h"

#define PS		4096
#define BENCH_ADDR	0x340000000000ULL
#define MAX_N		65536

uint64_t now_ns(void);
uint64_t cpu_ns(void);		/* this process, all threads */
uint64_t thread_cpu_ns(void);
uint64_t xorshift64(uint64_t *s);
int parse_list(const char *s, uint64_t *v, int max);
void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* ---- statistics over doubles ---- */
double q_of(double *v, size_t n, double q);	/* sorts v */
#define MED(v, n)	q_of(v, n, 0.5)
#define P99(v, n)	q_of(v, n, 0.99)

/* ---- a guest in a child process ---- */

/* Shared with the guest (MAP_SHARED, outside its tracked region). */
struct gshared {
	volatile uint64_t count;	/* pages written, free mode */
	volatile uint64_t cpu_ns;	/* its CPU time, free mode */
	volatile int stop;
	volatile uint64_t ws;		/* working set in pages, free mode */
	uint64_t list[MAX_N];		/* pages to write, commanded mode */
};

struct guest {
	pid_t pid;
	int cmd, ack;
	bool pending;			/* a command not yet acked */
	uint64_t size, npages;		/* region bytes, pages (header incl.) */
	struct remus_guest_desc desc;
	struct gshared *sh;
	uint32_t *perm;
	uint64_t seed;
};

/* Forks a guest of @size bytes, every page populated; @free: it dirties
 * sh->ws pages at random as fast as it can, else it waits for commands. */
int guest_start(struct guest *g, uint64_t size, bool free, bool no_uffd);
void guest_stop(struct guest *g);
/* N distinct random pages (not the header page) into sh->list. */
void guest_pick(struct guest *g, uint64_t n);
/* Tell it to write list[off, off + n); wait for it unless @async. */
int guest_write(struct guest *g, uint64_t off, uint64_t n, bool async);
int guest_wait(struct guest *g);

/* ---- the wrapping backend ---- */

enum wrap_mode {
	WRAP_SYNC,	/* suspend: guest writes N pages, floor, then stop */
	WRAP_ASYNC,	/* postcopy: guest told to write N; suspend waits */
	WRAP_FREE,	/* the guest dirties on its own */
	WRAP_PRE,	/* SYNC, and a pre-harvest + copy before the last F% */
	WRAP_ENGPRE,	/* the engine's pre-copy: the guest writes N - F% from
			 * resume on, precopy() waits for them, then the
			 * engine pre-copies, then the guest writes F% */
};

struct epoch_rec {
	uint64_t prework_ns;	/* in suspend() before the real stop */
	uint64_t guest_wait_ns;
	uint64_t suspend_ns;	/* the real stop */
	uint64_t floor_scan_ns, floor_copy_ns;
	uint64_t pre_ns;	/* pre-harvest + copy, guest running */
	uint64_t pre_pages;
	uint64_t final_harvest_ns, final_read_ns, pre_memcpy_ns;
	uint64_t pages;
	uint64_t engpre_wait_ns;	/* in precopy(): the guest's early writes */
	bool engpre;			/* the engine called precopy() */
	/* CPU time of the engine's epoch thread (user + system) */
	uint64_t pause_cpu_ns;		/* real stop .. resumed */
	uint64_t floor_scan_cpu_ns, floor_copy_cpu_ns;
};

struct wrap {
	struct remus_backend inner;	/* the library's proc backend */
	struct remus_backend outer;	/* what the engine gets */
	struct remus_backend_ops ops;
	struct guest *g;
	enum wrap_mode mode;
	uint64_t n, late;
	bool floor;
	enum remus_dirty_method method;
	/* floor */
	int pagemap;
	struct page_region *vec;
	uint64_t *pm;			/* soft-dirty floor's pagemap buffer */
	char *local, *staging;
	/* WRAP_PRE: the harness's own tracker and process handle */
	struct remus_proc *p;
	struct remus_dirty *d;
	struct remus_dirty_set pre, fin;
	char *prebuf;
	struct remus_range range;
	char state[REMUS_GUEST_DESC_MAX];
	/* per epoch, index = epoch number */
	struct epoch_rec *rec;
	uint64_t cap, calls;
	uint64_t pause_cpu0;
};

int wrap_open(struct wrap *w, struct guest *g, enum wrap_mode mode,
	      enum remus_dirty_method method, uint64_t n, uint64_t late,
	      bool floor, uint64_t cap);
void wrap_close(struct wrap *w);
const char *wrap_method(struct wrap *w);

/* ---- the engine, in a thread ---- */

struct run {
	struct remus_ctx ctx;
	struct remus_info info;
	struct remus_backend *be;
	struct remus_engine *_Atomic e;
	int fd;
	uint64_t want;			/* stop after this many epochs, 0: no */
	_Atomic uint64_t n;		/* epochs accounted */
	struct remus_epoch_stats *st;	/* [cap], index = order */
	uint64_t cap;
	uint64_t cpu_first;		/* process CPU when epoch 1 was accounted */
	int end;
	bool ended;			/* the engine is gone: no stop call */
	pthread_mutex_t lock;		/* e, ended */
	pthread_t th;
};

extern uint8_t bench_key[32];
void run_info(struct run *r, unsigned int interval_us, bool blackhole);
void run_start(struct run *r, struct remus_backend *be, int fd, uint64_t want,
	       uint64_t cap);
/* Waits for the end (after remus_engine_stop if @stop). */
int run_join(struct run *r, bool stop);
void run_wait_epochs(struct run *r, uint64_t n, int timeout_ms);

/* ---- the backup, in a child process on loopback ---- */

struct backup_child {
	pid_t pid;
	int port;
	int res;			/* pipe: its CPU time at the end */
	char image[64];
	/* shared: its CPU time and commits, as of its last commit */
	struct { volatile uint64_t cpu_ns, commits; } *sh;
};

int backup_start(struct backup_child *b);
/* Connected to it: fd or -errno. */
int backup_connect(struct backup_child *b);
/* Waits for it to end; its CPU time in ns (0 if unknown). */
uint64_t backup_wait(struct backup_child *b);

/* ---- the benchmarks ---- */
int bench_pause(int argc, char **argv);
int bench_rate(int argc, char **argv);
int bench_tput(int argc, char **argv);
int bench_codec(int argc, char **argv);
int bench_failover(int argc, char **argv);

#endif
