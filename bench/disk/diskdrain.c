// SPDX-License-Identifier: GPL-2.0
/*
 * diskdrain: the daemon's side of a disk, for the benchmark.
 *
 *   diskdrain replicate DISK MS [FILE]  read the write log as it fills,
 *                                       barrier every MS ms and commit the
 *                                       epoch before (as acks would); keep
 *                                       the records in FILE
 *   diskdrain commit DISK MS            barrier + commit every MS ms
 *                                       (buffer mode)
 *   diskdrain stage DISK FILE           write FILE's records into a stage
 *                                       disk, commit at every barrier, and
 *                                       say how fast
 *
 * The first two run until SIGTERM/SIGINT, then do a last barrier and
 * commit and print one line of counters.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "disk.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int die(const char *what, int err, struct remus_nl *nl)
{
	fprintf(stderr, "diskdrain: %s: %s%s%s\n", what, strerror(-err),
		nl && *remus_nl_errmsg(nl) ? ": " : "",
		nl ? remus_nl_errmsg(nl) : "");
	return 1;
}

static int run_replicate(const char *name, int ms, const char *file)
{
	struct remus_disk_sel sel = { .name = name };
	uint64_t bytes = 0, recs = 0, reads = 0, e = 0, maxused = 0;
	uint64_t seen = 0, acked = 0, first;
	double next, t0 = now();
	struct remus_disk_info info;
	struct remus_log log;
	struct remus_nl nl;
	int out = -1, err;

	if ((err = remus_nl_open(&nl)))
		return die("netlink", err, NULL);
	if ((err = remus_log_open(&log, NULL, &sel, O_RDONLY | O_NONBLOCK, 0)))
		return die("log", err, NULL);
	/* a forwarder: the stage disk checks the checksums */
	log.no_checksum = getenv("DRAIN_VERIFY") == NULL;
	if ((err = remus_disk_get(&nl, &sel, 0, &info)))
		return die("get", err, &nl);
	e = acked = seen = first = info.buf.barrier;
	if (file) {
		out = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (out < 0)
			return die(file, -errno, NULL);
	}
	next = now() + ms / 1000.0;
	while (!stop) {
		struct pollfd p = { .fd = log.fd, .events = POLLIN };
		int wait = (int)((next - now()) * 1000);
		ssize_t n;

		if (wait > 0)
			poll(&p, 1, wait);
		if (now() >= next) {
			if ((err = remus_disk_barrier(&nl, &sel, ++e)))
				return die("barrier", err, &nl);
			next += ms / 1000.0;
		}
		for (;;) {
			struct remus_log_rec r;

			n = remus_log_read(&log);
			if (n <= 0)
				break;
			reads++;
			bytes += n;
			while ((err = remus_log_next(&log, &r)) == 1) {
				recs++;
				if (r.hdr->type == REMUS_LOG_BARRIER)
					seen = r.hdr->epoch;
			}
			if (err < 0)
				return die("record", err, NULL);
			if (out >= 0 && write(out, log.buf, n) != n)
				return die(file, -EIO, NULL);
		}
		if (n < 0 && n != -EAGAIN)
			return die("read", n, NULL);
		/* the epoch whose barrier record was read is shipped: ack it */
		if (seen > acked) {
			if ((err = remus_disk_commit(&nl, &sel, seen)))
				return die("commit", err, &nl);
			acked = seen;
		}
		if (!remus_disk_get(&nl, &sel, 0, &info) &&
		    info.used_bytes > maxused)
			maxused = info.used_bytes;
	}
	/* the last epoch: close it and take what is left */
	if ((err = remus_disk_barrier(&nl, &sel, ++e)))
		return die("barrier", err, &nl);
	for (;;) {
		ssize_t n = remus_log_read(&log);
		struct remus_log_rec r;

		if (n <= 0)
			break;
		bytes += n;
		while (remus_log_next(&log, &r) == 1)
			recs++;
		if (out >= 0 && write(out, log.buf, n) != n)
			return die(file, -EIO, NULL);
	}
	remus_disk_commit(&nl, &sel, e);
	remus_disk_get(&nl, &sel, 0, &info);
	printf("drained_bytes=%" PRIu64 " records=%" PRIu64 " reads=%" PRIu64
	       " epochs=%" PRIu64 " max_used=%" PRIu64 " limit=%" PRIu64
	       " log_waits=%" PRIu64 " secs=%.2f\n", bytes, recs, reads, e - first,
	       maxused, info.buf.limit_bytes, info.buf.stats.log_waits,
	       now() - t0);
	if (out >= 0)
		close(out);
	remus_log_close(&log);
	remus_nl_close(&nl);
	return 0;
}

static int run_commit(const char *name, int ms)
{
	struct remus_disk_sel sel = { .name = name };
	struct remus_disk_info info;
	double worst = 0, total = 0;
	struct remus_nl nl;
	uint64_t e = 0, first;
	int err;

	if ((err = remus_nl_open(&nl)))
		return die("netlink", err, NULL);
	if ((err = remus_disk_get(&nl, &sel, 0, &info)))
		return die("get", err, &nl);
	e = first = info.buf.barrier;
	while (!stop) {
		double t;

		usleep(ms * 1000);
		if ((err = remus_disk_barrier(&nl, &sel, ++e)))
			return die("barrier", err, &nl);
		t = now();
		if ((err = remus_disk_commit(&nl, &sel, e)))
			return die("commit", err, &nl);
		t = now() - t;
		total += t;
		if (t > worst)
			worst = t;
	}
	remus_disk_get(&nl, &sel, 0, &info);
	e -= first;		/* the epochs of this run */
	printf("epochs=%" PRIu64 " commit_avg_ms=%.2f commit_max_ms=%.2f"
	       " log_waits=%" PRIu64 " committed_bytes=%" PRIu64 "\n", e,
	       e ? total / e * 1000 : 0, worst * 1000,
	       info.buf.stats.log_waits, info.buf.stats.released_bytes);
	remus_nl_close(&nl);
	return 0;
}

static int run_stage(const char *name, const char *file)
{
	struct remus_disk_sel sel = { .name = name };
	uint64_t data = 0, epochs = 0;
	struct remus_log log;
	struct remus_nl nl;
	unsigned char *buf;
	size_t len = 0, off;
	double t0;
	int in, err;

	if ((err = remus_nl_open(&nl)))
		return die("netlink", err, NULL);
	if ((err = remus_log_open(&log, NULL, &sel, O_WRONLY, 0)))
		return die("log", err, NULL);
	in = open(file, O_RDONLY);
	if (in < 0)
		return die(file, -errno, NULL);
	len = lseek(in, 0, SEEK_END);
	buf = malloc(len ? len : 1);
	if (!buf || pread(in, buf, len, 0) != (ssize_t)len)
		return die(file, -EIO, NULL);
	close(in);
	t0 = now();
	/* one epoch at a time: write its records, then commit it */
	for (off = 0; off < len;) {
		size_t start = off, size;

		for (;;) {
			const struct remus_log_record *h = (void *)(buf + off);

			if ((err = remus_log_check(buf + off, len - off, &size)))
				return die("record", err, NULL);
			off += size;
			if (h->type == REMUS_LOG_WRITE)
				data += (uint64_t)h->sectors << 9;
			if (h->type == REMUS_LOG_BARRIER || off == len)
				break;
		}
		if ((err = remus_log_write(&log, buf + start, off - start)))
			return die("stage write", err, NULL);
		if (((const struct remus_log_record *)(buf + off - size))->type ==
		    REMUS_LOG_BARRIER) {
			const struct remus_log_record *b =
				(void *)(buf + off - size);

			if ((err = remus_disk_commit(&nl, &sel, b->epoch)))
				return die("commit", err, &nl);
			epochs++;
		}
	}
	t0 = now() - t0;
	printf("staged_data_bytes=%" PRIu64 " epochs=%" PRIu64 " secs=%.3f"
	       " MBps=%.1f\n", data, epochs, t0, data / t0 / 1e6);
	free(buf);
	remus_log_close(&log);
	remus_nl_close(&nl);
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 4 && !strcmp(argv[1], "replicate"))
		return run_replicate(argv[2], atoi(argv[3]),
				     argc > 4 ? argv[4] : NULL);
	if (argc == 4 && !strcmp(argv[1], "commit"))
		return run_commit(argv[2], atoi(argv[3]));
	if (argc == 4 && !strcmp(argv[1], "stage"))
		return run_stage(argv[2], argv[3]);
	fprintf(stderr, "usage: diskdrain replicate DISK MS [FILE] | commit DISK MS | stage DISK FILE\n");
	return 2;
}
