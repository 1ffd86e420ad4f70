/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libremus: the proc backend, the engine's view of a cooperating Linux
 * process (lib/proc/ has the pieces: dirty tracking, process control, the
 * guest protocol). Primary side: a struct remus_backend over a running
 * guest. Backup side: a sink that keeps the committed memory image and,
 * on failover, starts the program from it.
 */
#ifndef REMUS_BACKEND_PROC_H
#define REMUS_BACKEND_PROC_H

#include <sys/types.h>

#include "backup.h"
#include "proc/dirty.h"
#include "proc/guest_proto.h"
#include "remus.h"

struct remus_proc_backend_cfg {
	pid_t pid;			/* the guest, started by the caller */
	const struct remus_guest_desc *desc;	/* its descriptor */
	bool child;			/* the caller is its parent */
	enum remus_dirty_method method;	/* AUTO picks and reports */
	int suspend_timeout_ms;
};

int remus_proc_backend_open(struct remus_backend *b,
			    const struct remus_proc_backend_cfg *cfg);
void remus_proc_backend_close(struct remus_backend *b);
/* The dirty-tracking method in use, for status. */
const char *remus_proc_backend_method(const struct remus_backend *b);

struct remus_proc_sink_cfg {
	const char *const *argv;	/* the program to start on failover */
	const char *image;		/* where the committed image goes */
	int spawn_timeout_ms;
	bool announce;			/* GARP/NA from the guest's netns */
};

int remus_proc_sink_open(struct remus_backup_sink *s,
			 const struct remus_proc_sink_cfg *cfg);
void remus_proc_sink_close(struct remus_backup_sink *s);
/* After failover: the restored guest and its descriptor. */
pid_t remus_proc_sink_pid(const struct remus_backup_sink *s,
			  struct remus_guest_desc *desc);

#endif /* REMUS_BACKEND_PROC_H */
