/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libremus: the xen backend: real Xen domains through Debian's libxenctrl,
 * libxenguest, libxenstore and libxenlight (Xen 4.17), no patched Xen.
 *
 * Primary: remusd runs xc_domain_save(XCFLAGS_LIVE, XC_STREAM_REMUS) itself
 * with the seed's three callbacks backed by the epoch engine, after the xl
 * and libxl stream headers, into a pipe. A pump thread walks the stream's
 * framing (xen/stream.h) and cuts it at every CHECKPOINT_END: the bytes of
 * checkpoint e travel in XENSTREAM records of epoch e, compressed, over
 * the project's own link (authenticated, acked, heartbeats).
 *
 * Backup: a sink hands only whole, verified checkpoints to `xl
 * migrate-receive -r -e` (the receiving half of libxl's Remus), which
 * builds the domain and, when its stream ends (always at a checkpoint
 * boundary here), fails over to the last checkpoint.
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

/*
 * Checkpoint record: a piece of the Xen stream of the checkpoint's epoch.
 * Body: u32 raw length, u8 codec (enum remus_codec), 3 zero bytes, then
 * the (compressed) bytes.
 */
#define REMUS_REC_XENSTREAM	(REMUS_REC_EXT_CKPT + 1)
#define REMUS_XENSTREAM_HDR_LEN	8

struct remus_xen_cfg {
	const char *domain;		/* name or domid */
	enum remus_codec codec;		/* for the stream pieces */
	unsigned int suspend_timeout_ms;
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
					 * "xl migrate-receive -r -e" */
};

int remus_xen_sink_open(struct remus_backup_sink *s,
			const struct remus_xen_sink_cfg *cfg);
void remus_xen_sink_close(struct remus_backup_sink *s);

#endif /* REMUS_BACKEND_XEN_H */
