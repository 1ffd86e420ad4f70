/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libremus: the backup side of the epoch protocol.
 *
 * The backup receives checkpoints into staging; only a whole, verified
 * checkpoint (END checked against its records, every frame authenticated)
 * becomes the committed state, and only then is it acknowledged. What the
 * committed state is depends on the guest: a memory image for proc
 * guests, the Xen stream handed to libxl for xen guests. A sink supplies
 * it.
 *
 * When the primary is silent past the timeout (or its connection closes
 * without a goodbye), the backup discards the partial checkpoint and fails
 * over: the sink restores the guest from the committed checkpoint. A
 * goodbye (orderly stop of the primary) disarms failover. A torn, corrupt
 * or unauthenticated stream is discarded, logged and the connection
 * reset; the primary then has the rest of the timeout to come back.
 */
#ifndef REMUS_BACKUP_H
#define REMUS_BACKUP_H

#include <stdbool.h>
#include <stdint.h>

#include "remus.h"
#include "wire.h"

struct remus_backup_sink;

struct remus_backup_sink_ops {
	const char *kind;
	/* A new session: check or set up for this geometry. A positive
	 * errno refuses the session (sent in REJECT, with what it means:
	 * EINVAL another geometry, EBUSY still holding another session's
	 * checkpoints, ENODEV no way to restore this guest here). */
	int (*hello)(struct remus_backup_sink *s, const struct remus_hello *h);
	/* One page of the open checkpoint; decode it against the newest
	 * copy (staged, else committed) with remus_delta_apply(). */
	int (*page)(struct remus_backup_sink *s, uint64_t epoch,
		    const struct remus_batch_item *it);
	int (*state)(struct remus_backup_sink *s, uint64_t epoch,
		     const struct remus_state *st);
	int (*disk)(struct remus_backup_sink *s, uint64_t epoch,
		    const struct remus_batch_item *it);
	/* Engine-defined checkpoint records (0x80..0xbf), e.g. a Xen stream. */
	int (*ext)(struct remus_backup_sink *s, const struct remus_frame *f);
	/* Optional, before the ack: is the open checkpoint whole by the
	 * sink's own format? An error here means no ack, no commit. */
	int (*verify)(struct remus_backup_sink *s, uint64_t epoch);
	/* The checkpoint is whole and verified: make it the committed one. */
	int (*commit)(struct remus_backup_sink *s, uint64_t epoch);
	/* Drop the open checkpoint. */
	void (*discard)(struct remus_backup_sink *s);
	/* Primary lost: bring the guest up from the committed checkpoint. */
	int (*failover)(struct remus_backup_sink *s);
};

struct remus_backup_sink {
	const struct remus_backup_sink_ops *ops;
	void *priv;
};

struct remus_backup_info {
	const char *listen;		/* "host:port" */
	enum remus_wire_auth auth;
	const uint8_t *key;
	unsigned int heartbeat_ms;
	unsigned int timeout_ms;
	uint32_t max_body;
	bool once;			/* after an orderly stop, return */
	const char *const *disks;	/* remus dm devices in stage mode */
	unsigned int nr_disks;
	void (*on_commit)(void *data, uint64_t epoch, uint64_t bytes);
	void *on_commit_data;
};

enum remus_backup_result {
	REMUS_BACKUP_FAILED_OVER,	/* the guest runs here now */
	REMUS_BACKUP_STOPPED,		/* remus_backup_stop() or once */
	REMUS_BACKUP_ERROR,
};

struct remus_backup;

struct remus_backup_status {
	const char *link;		/* "waiting", "up", "down" */
	bool authenticated, encrypted;
	bool armed;			/* a committed state to fail over to */
	uint64_t committed;
	uint64_t checkpoints;
	uint64_t sessions;
	uint64_t rejected;		/* broken or unauthenticated streams */
	uint64_t last_bytes;
	uint64_t silence_ms;
};

/* Runs until failover or stop; returns enum remus_backup_result.
 * started(data, b) once listening, started(data, NULL) before b goes. */
int remus_backup_run(const struct remus_ctx *ctx,
		     const struct remus_backup_info *info,
		     struct remus_backup_sink *sink,
		     void (*started)(void *data, struct remus_backup *b),
		     void *started_data);
void remus_backup_stop(struct remus_backup *b);
void remus_backup_status(struct remus_backup *b, struct remus_backup_status *st);

#endif /* REMUS_BACKUP_H */
