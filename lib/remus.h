/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libremus: the epoch engine, primary and backup side.
 *
 * The entry point keeps the shape of Xen's libxl_domain_remus_start(),
 * where the project started: remus_start(ctx, &info, backend, send_fd,
 * recv_fd). A backend supplies the seed's three callbacks with their
 * meanings and return values:
 *
 *   suspend   the guest stops (1 = suspended, 0 = failed); the engine then
 *             puts barrier e into every output buffer of the guest;
 *   postcopy  the guest runs again while the copied checkpoint is sent
 *             (1 = running, 0 = failed);
 *   checkpoint  (the engine's own, remus_engine_checkpoint()) send the
 *             end of checkpoint e, wait for acks as the pipeline depth
 *             requires, release every buffer through the acked epoch,
 *             wait out the interval; 1 = go on, 0 = stop.
 *
 * Between suspend and postcopy the backend copies the guest's dirty pages
 * and CPU/device state into the checkpoint's staging buffer (copy). The
 * pause is suspend + barrier + copy + postcopy, nothing else: compression,
 * authentication and sending happen while the guest runs.
 *
 * Backends whose own library drives the save loop (xen: xc_domain_save)
 * set run() and call remus_engine_suspend/postcopy/checkpoint from that
 * library's callbacks; the others set copy() and the engine drives.
 */
#ifndef REMUS_H
#define REMUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "compress.h"
#include "wire.h"

struct remus_engine;
struct remus_backend;
struct remus_ckpt;

/*
 * Checkpoint record of the engine's own (wire.h's extension range): the
 * write-log records of one disk for the checkpoint's epoch, as read from
 * the replicate-mode target; body = u32 disk index, u32 zero, then whole
 * struct remus_log_record (+ data) records, ending with BARRIER e in the
 * checkpoint's last one for that disk.
 */
#define REMUS_REC_DISKLOG	(REMUS_REC_EXT_CKPT + 0)
#define REMUS_DISKLOG_HDR_LEN	8

/*
 * Checkpoint record: a chunk of the backend's state blob (proc: the guest
 * descriptor; xen: the checkpoint's whole Xen stream), compressed with the
 * session's codec. Body, little-endian: u32 raw length, u8 codec, u8 kind,
 * u16 zero, u64 offset of the chunk in the blob, u64 the blob's length,
 * then the payload. The chunks of a blob come in order.
 */
#define REMUS_REC_BLOB		(REMUS_REC_EXT_CKPT + 1)
#define REMUS_BLOB_HDR_LEN	24
#define REMUS_BLOB_MAX		(4ULL << 30)	/* a blob's length, at most */

enum remus_log_level {
	REMUS_LOG_ERR,
	REMUS_LOG_WARN,
	REMUS_LOG_NOTICE,
	REMUS_LOG_INFO,
	REMUS_LOG_DEBUG,
};

/* Where the library's messages go: the library itself never prints. */
struct remus_ctx {
	void (*log)(void *data, enum remus_log_level level, const char *msg);
	void *log_data;
	enum remus_log_level level;
	/* Called once the engine exists, before checkpointing starts: the
	 * caller keeps the pointer for remus_engine_stop() and status; and
	 * with NULL before the engine goes away. */
	void (*started)(void *data, struct remus_engine *e);
	void *started_data;
};

void remus_log(const struct remus_ctx *ctx, enum remus_log_level level,
	       const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* What the primary does when the backup is lost. */
enum remus_policy {
	REMUS_POLICY_CONTINUE,	/* release all output, run unprotected */
	REMUS_POLICY_PAUSE,	/* hold the guest until a backup returns */
};

/* Why remus_start() returned. */
enum remus_result {
	REMUS_END_STOPPED,	/* remus_engine_stop(): backup told, output
				 * released or held per policy */
	REMUS_END_BACKUP_LOST,	/* and no re-pairing was asked for */
	REMUS_END_GUEST_GONE,	/* the guest died or was destroyed */
	REMUS_END_GUEST_SHUTDOWN, /* the guest shut itself down (poweroff,
				 * reboot, crash): the backup told to stand
				 * down, its last output released */
	REMUS_END_ERROR,	/* see the log */
};

/* Per-epoch report: what one checkpoint cost. Times in nanoseconds. */
struct remus_epoch_stats {
	uint64_t epoch;
	uint64_t pages;			/* dirty pages copied */
	uint64_t state_bytes;		/* as the backend produced it, before
					 * its own encoding (xen page delta) */
	uint64_t disk_bytes;
	uint64_t raw_bytes;		/* payload before compression */
	uint64_t wire_bytes;		/* frames written */
	uint64_t suspend_ns;		/* suspend call */
	uint64_t barrier_ns;		/* barriers on every buffer */
	uint64_t copy_ns;		/* harvest + copy */
	uint64_t resume_ns;		/* postcopy call */
	uint64_t pause_ns;		/* all four */
	uint64_t send_ns;		/* encode + write, guest running */
	uint64_t ack_ns;		/* end of send to ack */
	uint64_t commit_ns;		/* barrier to release */
	uint64_t lag_ns;		/* start later than the interval asked */
	uint64_t codec_ns;		/* inside compressors */
	uint64_t precopy_pages;		/* copied before the pause */
	uint64_t precopy_ns;		/* guest running */
};

struct remus_info {
	/* The seed's fields. */
	unsigned int interval_us;	/* checkpoint period, >= 1000 */
	bool blackhole;			/* checkpoint to nowhere: acks at once */
	bool compression;		/* negotiate delta + codec */

	/* This project's additions. */
	enum remus_codec codec;		/* general compressor, when compression */
	unsigned int delta_cache_pages;	/* sender's XOR cache; 0 = no deltas */
	unsigned int pipeline;		/* checkpoints in flight, >= 1 */
	bool precopy;			/* copy early, while the guest runs,
					 * when the backend can (see ops) */
	enum remus_policy policy;
	bool repair;			/* keep trying to re-pair on loss */
	unsigned int heartbeat_ms;
	unsigned int timeout_ms;	/* peer silent this long = lost */
	unsigned int reconnect_ms;	/* between re-pairing attempts */
	enum remus_wire_auth auth;
	const uint8_t *key;		/* REMUS_WIRE_KEY_LEN, unless AUTH_NONE */
	const char *const *netifs;	/* guest interfaces to buffer */
	unsigned int nr_netifs;
	const char *const *disks;	/* remus dm devices (replicate mode) */
	unsigned int nr_disks;

	/* New connection to the backup, for re-pairing: an fd or -errno. */
	int (*connect)(void *data);
	void *connect_data;
	/*
	 * Test hook: called at named points of the protocol ("pause": guest
	 * suspended, barrier in; "send": checkpoint half sent; "sent": END
	 * written, no ack yet; "ack": ack in, output not yet released;
	 * "release": output released). Crash tests kill the daemon there.
	 */
	void (*fault)(void *data, const char *point, uint64_t epoch);
	void *fault_data;
	/* Called after every acknowledged (or blackholed) checkpoint. */
	void (*on_epoch)(void *data, const struct remus_epoch_stats *st);
	void *on_epoch_data;
};

void remus_info_init(struct remus_info *info);

/* The guest, as the engine sees it. */
struct remus_backend_ops {
	const char *kind;
	/* Geometry for HELLO: page size and regions of pfns. */
	int (*geometry)(struct remus_backend *b, struct remus_hello *h);
	int (*suspend)(struct remus_backend *b);
	/*
	 * Guest suspended: put the pages written since the last copy (every
	 * page when @full) and the CPU/device state into @c. 0 or -errno.
	 */
	int (*copy)(struct remus_backend *b, struct remus_ckpt *c, bool full);
	int (*postcopy)(struct remus_backend *b);
	/*
	 * Optional: the guest runs; put the pages written since the last
	 * harvest into @c and re-arm their tracking, so that copy() in the
	 * pause finds only what is written after this. -EOPNOTSUPP when the
	 * tracking cannot (soft-dirty): the engine stops asking.
	 */
	int (*precopy)(struct remus_backend *b, struct remus_ckpt *c);
	/* 0 while the guest lives, -ESRCH once it is gone, -ESHUTDOWN
	 * once it shut itself down (a Xen domain's poweroff, reboot or
	 * crash: not a loss of the primary, so no failover). run() returns
	 * the same two. */
	int (*check)(struct remus_backend *b);
	/* Backends that drive the loop themselves: run it. */
	int (*run)(struct remus_backend *b, struct remus_engine *e);
	/*
	 * Optional: hold a running guest still without asking it (@on),
	 * or let it go again. The pause policy uses it in place of
	 * suspend(): it takes effect at once and works on a guest that
	 * would not suspend. 0 or -errno.
	 */
	int (*hold)(struct remus_backend *b, bool on);
};

struct remus_backend {
	const struct remus_backend_ops *ops;
	void *priv;
};

/*
 * A checkpoint's staging buffer: pages as (pfn, data) pairs in copy order
 * (a pfn may repeat: the later copy wins), the state blob.
 */
struct remus_ckpt {
	uint64_t epoch;
	uint32_t page_size;
	uint64_t nr_pages;		/* used */
	uint64_t cap_pages;
	uint64_t *pfns;
	uint8_t *pages;			/* cap_pages * page_size, lazily backed */
	uint8_t *state;
	size_t state_len, state_cap;
	struct remus_epoch_stats st;
	uint64_t t_barrier;		/* CLOCK_MONOTONIC ns */
	bool full;			/* a session's first checkpoint */
};

/* Room for n more pages: returns where they go (pfns and data). */
int remus_ckpt_reserve(struct remus_ckpt *c, uint64_t n, uint64_t **pfns,
		       uint8_t **pages);
int remus_ckpt_set_state(struct remus_ckpt *c, const void *data, size_t len);

/*
 * Run checkpointing until it ends; returns why (enum remus_result). send_fd
 * and recv_fd may be the same connected socket; both are -1 in blackhole
 * mode. The engine owns them from here and closes them.
 */
int remus_start(const struct remus_ctx *ctx, const struct remus_info *info,
		struct remus_backend *backend, int send_fd, int recv_fd);

/* For run() backends: the checkpoint being staged, between suspend and
 * checkpoint (NULL outside), to put the state blob into. */
struct remus_ckpt *remus_engine_staging(struct remus_engine *e);

/* For run() backends: the context to log through (remus_log()). */
const struct remus_ctx *remus_engine_ctx(struct remus_engine *e);

/* Async-signal-safe: ask the running engine to stop. */
void remus_engine_stop(struct remus_engine *e);

/* For run() backends: the seed's callbacks, backed by the engine. */
int remus_engine_suspend(struct remus_engine *e);
int remus_engine_postcopy(struct remus_engine *e);
int remus_engine_checkpoint(struct remus_engine *e);

/* Live status, safe from any thread. */
struct remus_status {
	const char *role;		/* "primary" */
	const char *backend;
	const char *link;		/* "up", "down", "blackhole" */
	const char *protection;		/* "protected", "unprotected",
					 * "paused (no backup)" */
	bool authenticated, encrypted;
	uint64_t epoch;			/* last barrier */
	uint64_t acked;
	uint64_t checkpoints;
	double rate;			/* checkpoints/s, recent */
	uint64_t pause_last_ns, pause_p50_ns, pause_p99_ns;
	/* The pause's parts (remus_epoch_stats), each its own median. */
	uint64_t suspend_p50_ns, copy_p50_ns, resume_p50_ns;
	uint64_t ack_last_ns;
	uint64_t commit_last_ns;
	uint64_t pages_last, raw_last, wire_last;
	double ratio_last;		/* raw / wire */
	uint64_t lag_total;		/* checkpoints that started late */
	uint64_t buffered_pkts, buffered_bytes;
	unsigned int in_flight;
	uint64_t sessions;
	const char *dirty_method;
};
void remus_engine_status(struct remus_engine *e, struct remus_status *st);

#endif /* REMUS_H */
