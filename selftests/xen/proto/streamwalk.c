// SPDX-License-Identifier: GPL-2.0
/*
 * Walk a Remus checkpoint stream (stdin) and relay it (stdout), logging
 * each checkpoint boundary (libxl CHECKPOINT_END) with its arrival time.
 *
 * streamwalk [-x] [-w] [-n] [-v] [-l LOG]
 *   -x  the stream starts with xl's header (what `xl migrate-receive` reads)
 *   -w  whole checkpoints only: hold bytes back until the CHECKPOINT_END that
 *       completes them, and at EOF drop a partial checkpoint, so the reader
 *       (libxl's Remus restore) always fails over from a complete one
 *   -n  do not relay (parse only; e.g. a saved stream)
 *   -v  log every record
 * Log lines (CLOCK_BOOTTIME seconds, the clock of /proc/uptime):
 *   start t=T
 *   ckpt n=N t=T off=OFFSET bytes=B pages_bytes=P records=R
 *   eof t=T off=OFFSET checkpoints=N partial=BYTES [dropped]
 *   error t=T off=OFFSET what=...
 * Exit: 0 at EOF on a checkpoint boundary (or nothing sent), 3 at EOF in
 * the middle of a checkpoint, 1 on a malformed stream or I/O error.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xen/stream.h"

struct relay {
	FILE *log;
	int verbose;
	uint64_t last_boundary, last_page_bytes, last_records;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_record(struct remus_xs_walk *w, enum remus_xs_layer layer, uint32_t type, uint32_t len,
		      uint64_t offset, void *data)
{
	struct relay *r = data;

	if (r->verbose)
		fprintf(r->log, "rec t=%.6f %s type=%#x len=%u off=%" PRIu64 "\n", now_s(),
			layer == REMUS_XS_LAYER_LIBXC ? "libxc" : "libxl", type, len, offset);
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += k;
		n -= k;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int with_xl = 0, whole = 0, relay_out = 1, opt, rc = 0;
	struct relay r = { .log = stderr };
	uint8_t *held = NULL;		/* -w: bytes past the last boundary */
	size_t held_len = 0, held_cap = 0;
	uint64_t seen_ckpt = 0;
	struct remus_xs_walk w;
	static uint8_t buf[1 << 16];

	while ((opt = getopt(argc, argv, "xwnvl:")) != -1) {
		switch (opt) {
		case 'x': with_xl = 1; break;
		case 'w': whole = 1; break;
		case 'n': relay_out = 0; break;
		case 'v': r.verbose = 1; break;
		case 'l':
			r.log = fopen(optarg, "a");
			if (!r.log) {
				fprintf(stderr, "streamwalk: %s: %s\n", optarg, strerror(errno));
				return 1;
			}
			break;
		default:
			fprintf(stderr, "usage: streamwalk [-x] [-w] [-n] [-v] [-l LOG]\n");
			return 2;
		}
	}
	setvbuf(r.log, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	remus_xs_walk_init(&w, with_xl);
	w.on_record = on_record;
	w.data = &r;
	fprintf(r.log, "start t=%.6f mode=%s\n", now_s(), whole ? "whole" : "pass");

	for (;;) {
		ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(r.log, "error t=%.6f off=%" PRIu64 " what=read: %s\n", now_s(),
				w.offset, strerror(errno));
			rc = 1;
			break;
		}
		if (n == 0) {
			uint64_t partial = w.offset - w.boundary;

			fprintf(r.log, "eof t=%.6f off=%" PRIu64 " checkpoints=%" PRIu64
				" partial=%" PRIu64 "%s\n", now_s(), w.offset, w.checkpoints,
				partial, whole && partial ? " dropped" : "");
			rc = partial && w.checkpoints ? 3 : 0;
			break;
		}
		if (relay_out && !whole && write_all(STDOUT_FILENO, buf, n)) {
			fprintf(r.log, "error t=%.6f off=%" PRIu64 " what=write: %s\n", now_s(),
				w.offset, strerror(errno));
			rc = 1;
			break;
		}
		if (whole) {
			if (held_len + n > held_cap) {
				size_t cap = held_cap ? held_cap : 1 << 20;
				uint8_t *p;

				while (cap < held_len + n)
					cap *= 2;
				p = realloc(held, cap);
				if (!p) {
					fprintf(r.log, "error t=%.6f what=out of memory\n", now_s());
					rc = 1;
					break;
				}
				held = p;
				held_cap = cap;
			}
			memcpy(held + held_len, buf, n);
			held_len += n;
		}
		if (remus_xs_walk_feed(&w, buf, n)) {
			fprintf(r.log, "error t=%.6f off=%" PRIu64 " what=%s\n", now_s(),
				w.error_offset, w.error);
			rc = 1;
			break;
		}
		if (w.checkpoints != seen_ckpt) {
			fprintf(r.log, "ckpt n=%" PRIu64 " t=%.6f off=%" PRIu64 " bytes=%" PRIu64
				" pages_bytes=%" PRIu64 " records=%" PRIu64 "\n", w.checkpoints,
				now_s(), w.boundary, w.boundary - r.last_boundary,
				w.boundary_page_bytes - r.last_page_bytes,
				w.boundary_records - r.last_records);
			if (w.checkpoints - seen_ckpt > 1)
				fprintf(r.log, "note: %" PRIu64 " checkpoints in one read\n",
					w.checkpoints - seen_ckpt);
			r.last_page_bytes = w.boundary_page_bytes;
			r.last_records = w.boundary_records;
			if (whole && relay_out) {
				/* Everything up to the boundary goes out, the rest stays. */
				size_t out = held_len - (size_t)(w.offset - w.boundary);

				if (write_all(STDOUT_FILENO, held, out)) {
					fprintf(r.log, "error t=%.6f what=write: %s\n", now_s(),
						strerror(errno));
					rc = 1;
					break;
				}
				memmove(held, held + out, held_len - out);
				held_len -= out;
			}
			r.last_boundary = w.boundary;
			seen_ckpt = w.checkpoints;
		}
	}
	fprintf(r.log, "summary checkpoints=%" PRIu64 " libxc_checkpoints=%" PRIu64
		" libxl_records=%" PRIu64 " libxc_records=%" PRIu64 " page_records=%" PRIu64
		" bytes=%" PRIu64 " domain_type=%u xl_config=%u\n", w.checkpoints,
		w.libxc_checkpoints, w.records[0], w.records[1], w.page_records, w.offset,
		w.domain_type, w.xl_config_len);
	free(held);
	return rc;
}
