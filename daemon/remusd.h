/* SPDX-License-Identifier: GPL-2.0 */
#ifndef REMUSD_H
#define REMUSD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "backup.h"
#include "remus.h"

struct remusd {
	const char *role;		/* "primary" or "backup" */
	const char *name;		/* control socket name */
	pthread_mutex_t lock;
	struct remus_engine *engine;	/* while the primary runs */
	struct remus_backup *backup;	/* while the backup waits */
	const char *state;		/* free text: "checkpointing", ... */
	const char *dirty_method;
	const char *guest;
	pid_t guest_pid;
	bool stop;
	bool failed_over;
	uint64_t failover_epoch;
	int ctl_fd;
	pthread_t ctl_thread;
	bool ctl_running;
};

/* remusd-ctl.c: the control socket. */
int remusd_ctl_start(struct remusd *d, const char *path);
void remusd_ctl_stop(struct remusd *d);
/* Text or JSON status into f. */
void remusd_status_write(struct remusd *d, FILE *f, bool json);
/* Ask whatever runs to stop (signal handlers, "stop" request). */
void remusd_request_stop(struct remusd *d);

#endif /* REMUSD_H */
