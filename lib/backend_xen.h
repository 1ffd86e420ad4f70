/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libremus: the xen backend: real Xen domains through Debian's libxenctrl,
 * libxenguest, libxenstore and libxenlight (Xen 4.17), no patched Xen.
 *
 * Primary: remusd runs xc_domain_save(XCFLAGS_LIVE, XC_STREAM_REMUS) itself
 * with the seed's three callbacks backed by the epoch engine, after the xl
 * and libxl stream headers, into a pipe. A pump thread walks the stream's
 * framing (xen/stream.h) and cuts it at every CHECKPOINT_END: the bytes of
 * checkpoint e are the state blob of epoch e, sent by the engine in
 * compressed BLOB records over the project's own link (authenticated,
 * acked, heartbeats).
 *
 * Backup: a sink queues only whole, verified checkpoints for `xl
 * migrate-receive -r -e` (the receiving half of libxl's Remus), fed by a
 * writer thread; the ack goes out once a checkpoint is queued. On failover
 * the queue is handed over and the stream ends, always at a checkpoint
 * boundary: libxl builds the domain from the last checkpoint, renames it
 * from NAME--incoming to NAME and unpauses it.
 *
 * PVH guests only: Debian's hypervisor is built without shadow paging, so
 * a PV guest cannot enable log-dirty; HVM needs device-model state.
 */
#ifndef REMUS_BACKEND_XEN_H
#define REMUS_BACKEND_XEN_H

#include <stdbool.h>
#include <stdint.h>

#include "backup.h"
#include "compress.h"
#include "remus.h"

struct remus_xen_cfg {
	const char *domain;		/* name or domid */
	enum remus_codec codec;		/* for the stream pieces */
	unsigned int suspend_timeout_ms;
	/* MiB of the page cache the checkpoint's pages are XOR-delta'd
	 * against (xen/pagedelta.h), at most 1024; 0: no delta. The backup
	 * mirrors it with as much memory, as the stream tells it. */
	unsigned int delta_cache_mib;
	/* Filled by remus_xen_backend_open(): */
	uint32_t domid;
	char vifs[8][16];		/* the guest's vif names */
	unsigned int nr_vifs;
};

/*
 * -ENOENT no such domain; -EOPNOTSUPP a PV or HVM guest (with why in
 * *why); -EACCES not a dom0 (no privcmd).
 */
int remus_xen_backend_open(struct remus_backend *b, struct remus_xen_cfg *cfg,
			   const char **why);
void remus_xen_backend_close(struct remus_backend *b);

struct remus_xen_sink_cfg {
	const char *receiver;		/* command; default
					 * "exec xl migrate-receive -r -e" */
	size_t queue_max;		/* bytes of checkpoints waiting for the
					 * receiver (default 256 MiB) */
};

int remus_xen_sink_open(struct remus_backup_sink *s,
			const struct remus_xen_sink_cfg *cfg);
/* Without a failover, kills the receiver and destroys NAME--incoming. */
void remus_xen_sink_close(struct remus_backup_sink *s);

struct remus_xen_nic {
	uint8_t mac[6];
	char bridge[16];
};

struct remus_xen_failover {
	int receiver_status;		/* waitpid() status; -1 still running */
	char name[64];			/* the domain's name */
	uint32_t domid;			/* 0: not found */
	bool renamed;			/* false: runs as NAME--incoming */
	struct remus_xen_nic nics[8];
	unsigned int nr_nics;
	uint64_t checkpoints;		/* handed to the receiver */
};

/*
 * After the sink's failover: wait for the receiver to finish (libxl
 * builds the devices, xl renames and unpauses the domain), then find the
 * domain. -ETIMEDOUT (fo filled as far as known), -ENODATA no failover.
 */
int remus_xen_sink_wait(struct remus_backup_sink *s, unsigned int timeout_ms,
			struct remus_xen_failover *fo);
/* Rename NAME--incoming to NAME once NAME is free; -EEXIST while not. */
int remus_xen_sink_rename(struct remus_backup_sink *s,
			  struct remus_xen_failover *fo);

#endif /* REMUS_BACKEND_XEN_H */
