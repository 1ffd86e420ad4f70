// SPDX-License-Identifier: GPL-2.0
/*
 * remusd's control socket and status: one request per connection, served
 * by a thread of its own so that a slow client never delays a checkpoint.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctlsock.h"
#include "json.h"
#include "remusd.h"

#define MS(ns) ((double)(ns) / 1e6)

void remusd_request_stop(struct remusd *d)
{
	pthread_mutex_lock(&d->lock);
	d->stop = true;
	if (d->engine)
		remus_engine_stop(d->engine);
	if (d->backup)
		remus_backup_stop(d->backup);
	pthread_mutex_unlock(&d->lock);
}

static void primary_status(struct remusd *d, FILE *f, bool json,
			   struct remus_engine *e)
{
	struct remus_status st;

	remus_engine_status(e, &st);
	if (json) {
		struct remus_json j;

		remus_json_init(&j, f);
		remus_json_obj_start(&j, NULL);
		remus_json_str(&j, "role", "primary");
		remus_json_str(&j, "guest", d->guest);
		remus_json_str(&j, "backend", st.backend);
		remus_json_str(&j, "dirty_tracking", d->dirty_method);
		remus_json_str(&j, "link", st.link);
		remus_json_str(&j, "protection", st.protection);
		remus_json_bool(&j, "authenticated", st.authenticated);
		remus_json_bool(&j, "encrypted", st.encrypted);
		remus_json_u64(&j, "epoch", st.epoch);
		remus_json_u64(&j, "acked", st.acked);
		remus_json_u64(&j, "checkpoints", st.checkpoints);
		remus_json_double(&j, "rate", st.rate);
		remus_json_double(&j, "pause_last_ms", MS(st.pause_last_ns));
		remus_json_double(&j, "pause_p50_ms", MS(st.pause_p50_ns));
		remus_json_double(&j, "pause_p99_ms", MS(st.pause_p99_ns));
		remus_json_double(&j, "suspend_p50_ms", MS(st.suspend_p50_ns));
		remus_json_double(&j, "copy_p50_ms", MS(st.copy_p50_ns));
		remus_json_double(&j, "resume_p50_ms", MS(st.resume_p50_ns));
		remus_json_double(&j, "ack_last_ms", MS(st.ack_last_ns));
		remus_json_double(&j, "commit_last_ms", MS(st.commit_last_ns));
		remus_json_u64(&j, "pages_last", st.pages_last);
		remus_json_u64(&j, "raw_bytes_last", st.raw_last);
		remus_json_u64(&j, "wire_bytes_last", st.wire_last);
		remus_json_double(&j, "ratio_last", st.ratio_last);
		remus_json_u64(&j, "late_checkpoints", st.lag_total);
		remus_json_u64(&j, "buffered_pkts", st.buffered_pkts);
		remus_json_u64(&j, "buffered_bytes", st.buffered_bytes);
		remus_json_u64(&j, "in_flight", st.in_flight);
		remus_json_u64(&j, "sessions", st.sessions);
		remus_json_obj_end(&j);
		return;
	}
	fprintf(f, "role primary, guest %s (%s, dirty tracking %s)\n",
		d->guest, st.backend, d->dirty_method ? d->dirty_method : "-");
	fprintf(f, "link %s, %s, %s, %s\n", st.link, st.protection,
		st.authenticated ? "authenticated" : "UNAUTHENTICATED (no key)",
		st.encrypted ? "encrypted" : "not encrypted");
	fprintf(f, "epoch %" PRIu64 " acked %" PRIu64 " checkpoints %" PRIu64
		" rate %.1f/s in flight %u sessions %" PRIu64 "\n",
		st.epoch, st.acked, st.checkpoints, st.rate, st.in_flight,
		st.sessions);
	fprintf(f, "pause last %.3f ms p50 %.3f ms p99 %.3f ms; ack %.3f ms; commit %.3f ms\n",
		MS(st.pause_last_ns), MS(st.pause_p50_ns), MS(st.pause_p99_ns),
		MS(st.ack_last_ns), MS(st.commit_last_ns));
	fprintf(f, "pause parts p50: suspend %.3f ms copy %.3f ms resume %.3f ms\n",
		MS(st.suspend_p50_ns), MS(st.copy_p50_ns), MS(st.resume_p50_ns));
	fprintf(f, "last checkpoint %" PRIu64 " pages, %" PRIu64 " bytes raw, %"
		PRIu64 " on the wire (ratio %.2f); late checkpoints %" PRIu64 "\n",
		st.pages_last, st.raw_last, st.wire_last, st.ratio_last,
		st.lag_total);
	fprintf(f, "buffered %" PRIu64 " packets %" PRIu64 " bytes\n",
		st.buffered_pkts, st.buffered_bytes);
}

static void backup_status(struct remusd *d, FILE *f, bool json,
			  struct remus_backup *b)
{
	struct remus_backup_status st;

	remus_backup_status(b, &st);
	if (json) {
		struct remus_json j;

		remus_json_init(&j, f);
		remus_json_obj_start(&j, NULL);
		remus_json_str(&j, "role", "backup");
		remus_json_str(&j, "link", st.link);
		remus_json_bool(&j, "authenticated", st.authenticated);
		remus_json_bool(&j, "encrypted", st.encrypted);
		remus_json_bool(&j, "armed", st.armed);
		remus_json_u64(&j, "committed", st.committed);
		remus_json_u64(&j, "checkpoints", st.checkpoints);
		remus_json_u64(&j, "sessions", st.sessions);
		remus_json_u64(&j, "rejected", st.rejected);
		remus_json_u64(&j, "last_bytes", st.last_bytes);
		remus_json_u64(&j, "silence_ms", st.silence_ms);
		remus_json_obj_end(&j);
		return;
	}
	fprintf(f, "role backup, link %s, %s, %s\n", st.link,
		st.authenticated ? "authenticated" : "UNAUTHENTICATED (no key)",
		st.encrypted ? "encrypted" : "not encrypted");
	fprintf(f, "committed %" PRIu64 " checkpoints %" PRIu64 " sessions %"
		PRIu64 " rejected streams %" PRIu64 "\n", st.committed,
		st.checkpoints, st.sessions, st.rejected);
	fprintf(f, "failover %s; primary silent for %" PRIu64 " ms\n",
		st.armed ? "armed" : "disarmed", st.silence_ms);
}

void remusd_status_write(struct remusd *d, FILE *f, bool json)
{
	pthread_mutex_lock(&d->lock);
	if (d->engine) {
		primary_status(d, f, json, d->engine);
	} else if (d->backup) {
		backup_status(d, f, json, d->backup);
	} else if (json) {
		struct remus_json j;

		remus_json_init(&j, f);
		remus_json_obj_start(&j, NULL);
		remus_json_str(&j, "role", d->role);
		remus_json_str(&j, "state", d->state ? d->state : "");
		remus_json_bool(&j, "failed_over", d->failed_over);
		remus_json_u64(&j, "failover_epoch", d->failover_epoch);
		remus_json_u64(&j, "guest_pid", (uint64_t)d->guest_pid);
		remus_json_obj_end(&j);
	} else {
		fprintf(f, "role %s, %s\n", d->role, d->state ? d->state : "");
		if (d->failed_over)
			fprintf(f, "failed over at epoch %" PRIu64 ", guest pid %d\n",
				d->failover_epoch, (int)d->guest_pid);
	}
	pthread_mutex_unlock(&d->lock);
}

static void serve(struct remusd *d, int fd)
{
	char buf[REMUS_CTL_LINE_MAX];
	struct remus_ctl_req req;
	size_t have = 0;
	FILE *f;
	int ret = 0;

	while (have < sizeof(buf)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 1000) <= 0)
			break;
		n = read(fd, buf + have, sizeof(buf) - have);
		if (n <= 0)
			break;
		have += (size_t)n;
		ret = remus_ctl_parse(buf, have, &req);
		if (ret)
			break;
	}
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return;
	}
	if (ret <= 0) {
		fprintf(f, "error: bad request (want: status [json] | stop | ping)\n");
	} else if (req.verb == REMUS_CTL_STATUS) {
		remusd_status_write(d, f, req.json);
	} else if (req.verb == REMUS_CTL_STOP) {
		fprintf(f, "stopping\n");
		remusd_request_stop(d);
	} else {
		fprintf(f, "pong\n");
	}
	fclose(f);
}

static void *ctl_main(void *arg)
{
	struct remusd *d = arg;

	for (;;) {
		struct pollfd p = { .fd = d->ctl_fd, .events = POLLIN };
		int fd;

		if (poll(&p, 1, 200) < 0 && errno != EINTR)
			break;
		pthread_mutex_lock(&d->lock);
		if (!d->ctl_running) {
			pthread_mutex_unlock(&d->lock);
			break;
		}
		pthread_mutex_unlock(&d->lock);
		if (!(p.revents & POLLIN))
			continue;
		fd = accept4(d->ctl_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			serve(d, fd);
	}
	return NULL;
}

int remusd_ctl_start(struct remusd *d, const char *path)
{
	d->ctl_fd = remus_ctl_listen(path);
	if (d->ctl_fd < 0)
		return d->ctl_fd;
	d->ctl_running = true;
	if (pthread_create(&d->ctl_thread, NULL, ctl_main, d)) {
		close(d->ctl_fd);
		d->ctl_running = false;
		return -EAGAIN;
	}
	return 0;
}

void remusd_ctl_stop(struct remusd *d)
{
	if (!d->ctl_running)
		return;
	pthread_mutex_lock(&d->lock);
	d->ctl_running = false;
	pthread_mutex_unlock(&d->lock);
	pthread_join(d->ctl_thread, NULL);
	close(d->ctl_fd);
}
