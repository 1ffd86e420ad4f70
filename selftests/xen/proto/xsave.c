// SPDX-License-Identifier: GPL-2.0
/*
 * Prototype of the primary's Remus save loop, outside libxl.
 *
 * It writes what `xl remus` writes, but drives libxenguest itself:
 *   xl header + the domain's JSON config (what `xl migrate-receive` reads),
 *   libxl v2 header, LIBXC_CONTEXT,
 *   xc_domain_save(XCFLAGS_LIVE, XC_STREAM_REMUS) with our callbacks:
 *     suspend     "suspend" into control/shutdown, wait for SHUTDOWN_suspend
 *     postcopy    xc_domain_resume(fast) + xs_resume_domain
 *     checkpoint  write libxl CHECKPOINT_END, sleep the interval, go on
 *     switch_qemu_logdirty  nothing (PVH has no device model)
 * The receiving side is any command that speaks xl's migration protocol:
 * it first writes the receiver banner, then reads the stream on stdin.
 *
 * xsave [-i MS] [-n CHECKPOINTS] [-p] [-l LOG] -c 'RECEIVER CMD' DOMID
 *   -n  stop after N checkpoints, at a checkpoint boundary
 *   -p  pause the primary before closing the stream (it "dies" there, so
 *       the backup's failover can be checked without two copies running)
 * SIGTERM/SIGINT also stop at the next checkpoint boundary.
 * Log lines (CLOCK_BOOTTIME s): ckpt n=N t=T suspend_ms=.. copy_ms=..
 * resume_ms=.. period_ms=..; at the end the distribution of each phase.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xenguest.h>
#include <xenstore.h>
#include <xentoollog.h>
#include <libxl.h>

#include "xen/stream.h"

#define SUSPEND_TIMEOUT_MS 30000
#define BANNER "xl migration receiver ready, send binary domain data.\n"
#define MAXCK 100000

enum { T_SUSPEND, T_COPY, T_RESUME, T_PERIOD, NT };
static const char *tname[NT] = { "suspend", "copy+send", "resume", "period" };

struct saver {
	xc_interface *xch;
	struct xs_handle *xsh;
	uint32_t domid;
	int fd;
	FILE *log;
	unsigned int interval_ms;
	uint64_t max_checkpoints, n;
	char shutdown_path[64];
	double t_suspend0, t_suspended, t_postcopy, t_resumed, t_prev_suspend0;
	double (*t)[NT];
	int suspended;
};

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	stop_requested = 1;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int write_all(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;

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

static int domain_state(struct saver *s)
{
	xc_domaininfo_t info;

	if (xc_domain_getinfolist(s->xch, s->domid, 1, &info) != 1 || info.domain != s->domid)
		return -1;
	return (info.flags & XEN_DOMINF_shutdown) &&
	       ((info.flags >> XEN_DOMINF_shutdownshift) & XEN_DOMINF_shutdownmask) ==
	       SHUTDOWN_suspend;
}

static int wait_watch(struct saver *s, double deadline)
{
	struct pollfd p = { .fd = xs_fileno(s->xsh), .events = POLLIN };
	int left = (int)(deadline - now_ms());
	unsigned int n;
	char **ev;

	if (left <= 0 || poll(&p, 1, left) <= 0)
		return -ETIMEDOUT;
	ev = xs_read_watch(s->xsh, &n);
	free(ev);
	return 0;
}

/* libxc: return non-zero once the guest is suspended, 0 on failure. */
static int cb_suspend(void *data)
{
	struct saver *s = data;
	double deadline;
	int st;

	s->t_suspend0 = now_ms();
	deadline = s->t_suspend0 + SUSPEND_TIMEOUT_MS;
	if (!xs_write(s->xsh, XBT_NULL, s->shutdown_path, "suspend", 7)) {
		fprintf(stderr, "xsave: writing %s: %s\n", s->shutdown_path, strerror(errno));
		return 0;
	}
	while ((st = domain_state(s)) == 0) {
		if (wait_watch(s, deadline)) {
			fprintf(stderr, "xsave: guest did not suspend in %d ms\n", SUSPEND_TIMEOUT_MS);
			return 0;
		}
	}
	if (st < 0) {
		fprintf(stderr, "xsave: domain %u is gone\n", s->domid);
		return 0;
	}
	s->t_suspended = now_ms();
	s->suspended = 1;
	return 1;
}

static int resume_guest(struct saver *s)
{
	if (xc_domain_resume(s->xch, s->domid, 1)) {
		fprintf(stderr, "xsave: xc_domain_resume: %s\n", strerror(errno));
		return -1;
	}
	if (!xs_resume_domain(s->xsh, s->domid)) {
		fprintf(stderr, "xsave: xs_resume_domain: %s\n", strerror(errno));
		return -1;
	}
	s->suspended = 0;
	return 0;
}

/* libxc: the checkpoint's pages and state are written; let the guest run. */
static int cb_postcopy(void *data)
{
	struct saver *s = data;

	s->t_postcopy = now_ms();
	if (resume_guest(s))
		return 0;
	s->t_resumed = now_ms();
	return 1;
}

/* libxc: 1 = take another checkpoint, 0 = stop (at this boundary). */
static int cb_checkpoint(void *data)
{
	struct saver *s = data;
	uint8_t rec[8] = { LIBXL_REC_CHECKPOINT_END, 0, 0, 0, 0, 0, 0, 0 };
	double *t;
	int rc;

	rc = write_all(s->fd, rec, sizeof(rec));
	if (rc) {
		fprintf(stderr, "xsave: writing CHECKPOINT_END: %s\n", strerror(-rc));
		return -1;
	}
	t = s->t[s->n % MAXCK];
	t[T_SUSPEND] = s->t_suspended - s->t_suspend0;
	t[T_COPY] = s->t_postcopy - s->t_suspended;
	t[T_RESUME] = s->t_resumed - s->t_postcopy;
	t[T_PERIOD] = s->t_prev_suspend0 ? s->t_suspend0 - s->t_prev_suspend0 : NAN;
	s->t_prev_suspend0 = s->t_suspend0;
	s->n++;
	fprintf(s->log, "ckpt n=%" PRIu64 " t=%.6f suspend_ms=%.2f copy_ms=%.2f resume_ms=%.2f"
		" period_ms=%.2f\n", s->n, now_ms() / 1e3, t[T_SUSPEND], t[T_COPY], t[T_RESUME],
		t[T_PERIOD]);
	if (stop_requested || (s->max_checkpoints && s->n >= s->max_checkpoints))
		return 0;
	usleep(s->interval_ms * 1000);
	return stop_requested ? 0 : 1;
}

static int cb_logdirty(uint32_t domid, unsigned int enable, void *data)
{
	return 0;
}

/* xl's header with the domain's configuration as JSON, as xl writes it. */
static int write_xl_header(struct saver *s)
{
	xentoollog_logger_stdiostream *lg;
	libxl_domain_config cfg;
	uint8_t hdr[XL_HDR_LEN] = { 0 };
	libxl_ctx *ctx = NULL;
	uint32_t v, len;
	char *json;
	int rc = -1;

	lg = xtl_createlogger_stdiostream(stderr, XTL_ERROR, 0);
	if (libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0, (xentoollog_logger *)lg)) {
		fprintf(stderr, "xsave: libxl_ctx_alloc failed\n");
		goto out;
	}
	libxl_domain_config_init(&cfg);
	if (libxl_retrieve_domain_configuration(ctx, s->domid, &cfg, NULL)) {
		fprintf(stderr, "xsave: cannot retrieve the configuration of domain %u\n", s->domid);
		goto out_cfg;
	}
	cfg.c_info.domid = 0;	/* the receiver picks its own */
	json = libxl_domain_config_to_json(ctx, &cfg);
	if (!json) {
		fprintf(stderr, "xsave: configuration to JSON failed\n");
		goto out_cfg;
	}
	len = strlen(json) + 1;
	memcpy(hdr, XL_MAGIC, XL_MAGIC_LEN);
	v = XL_BYTEORDER;
	memcpy(hdr + 32, &v, 4);
	v = XL_MANDATORY_JSON | XL_MANDATORY_STREAMV2;
	memcpy(hdr + 36, &v, 4);
	v = 4 + len;		/* optional data: u32 length + config */
	memcpy(hdr + 44, &v, 4);
	if (write_all(s->fd, hdr, sizeof(hdr)) || write_all(s->fd, &len, 4) ||
	    write_all(s->fd, json, len))
		fprintf(stderr, "xsave: writing the xl header: %s\n", strerror(errno));
	else
		rc = 0;
	free(json);
out_cfg:
	libxl_domain_config_dispose(&cfg);
out:
	if (ctx)
		libxl_ctx_free(ctx);
	xtl_logger_destroy((xentoollog_logger *)lg);
	return rc;
}

static int write_libxl_header(struct saver *s)
{
	uint8_t h[LIBXL_HDR_LEN + REMUS_XS_REC_HDR_LEN] = {
		'L', 'i', 'b', 'x', 'l', 'F', 'm', 't',
		0, 0, 0, LIBXL_STREAM_VERSION, 0, 0, 0, 0,
		LIBXL_REC_LIBXC_CONTEXT, 0, 0, 0, 0, 0, 0, 0,
	};

	return write_all(s->fd, h, sizeof(h));
}

/* Run CMD with its stdin and stdout on pipes; the receiver. */
static pid_t spawn(const char *cmd, int *to, int *from)
{
	int in[2], out[2];
	pid_t pid;

	if (pipe(in) || pipe(out))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[0]); close(in[1]); close(out[0]); close(out[1]);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	*to = in[1];
	*from = out[0];
	return pid;
}

static int read_banner(int fd)
{
	char buf[sizeof(BANNER)];
	size_t have = 0;

	while (have < sizeof(BANNER) - 1) {
		ssize_t n = read(fd, buf + have, sizeof(BANNER) - 1 - have);

		if (n <= 0)
			return -1;
		have += n;
	}
	return memcmp(buf, BANNER, sizeof(BANNER) - 1) ? -1 : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void report(struct saver *s)
{
	uint64_t n = s->n < MAXCK ? s->n : MAXCK;
	double *v = malloc(sizeof(*v) * (n ? n : 1));
	uint64_t i, k;
	int p;

	fprintf(s->log, "%-10s %6s %9s %9s %9s %9s %9s (ms)\n", "phase", "n", "min", "p50",
		"p90", "max", "mean");
	for (p = 0; p < NT; p++) {
		double sum = 0;

		for (i = 0, k = 0; i < n; i++)
			if (!isnan(s->t[i][p]))
				sum += (v[k++] = s->t[i][p]);
		if (!k)
			continue;
		qsort(v, k, sizeof(*v), cmp_double);
		fprintf(s->log, "%-10s %6" PRIu64 " %9.2f %9.2f %9.2f %9.2f %9.2f\n", tname[p], k,
			v[0], v[(k - 1) / 2], v[(uint64_t)ceil(0.9 * k) - 1], v[k - 1], sum / k);
	}
	free(v);
}

int main(int argc, char **argv)
{
	struct saver s = { .interval_ms = 200, .log = stdout };
	struct save_callbacks cb = {
		.suspend = cb_suspend,
		.postcopy = cb_postcopy,
		.checkpoint = cb_checkpoint,
		.switch_qemu_logdirty = cb_logdirty,
		.data = &s,
	};
	struct sigaction sa = { .sa_handler = on_stop };
	const char *cmd = NULL;
	int opt, rc, from = -1, pause_at_end = 0, status;
	pid_t child;

	while ((opt = getopt(argc, argv, "i:n:pl:c:")) != -1) {
		switch (opt) {
		case 'i': s.interval_ms = strtoul(optarg, NULL, 0); break;
		case 'n': s.max_checkpoints = strtoull(optarg, NULL, 0); break;
		case 'p': pause_at_end = 1; break;
		case 'c': cmd = optarg; break;
		case 'l':
			s.log = fopen(optarg, "a");
			if (!s.log) {
				fprintf(stderr, "xsave: %s: %s\n", optarg, strerror(errno));
				return 1;
			}
			break;
		default: goto usage;
		}
	}
	if (optind != argc - 1 || !cmd)
		goto usage;
	s.domid = strtoul(argv[optind], NULL, 0);
	setvbuf(s.log, NULL, _IOLBF, 0);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	s.t = calloc(MAXCK, sizeof(*s.t));

	s.xch = xc_interface_open(NULL, NULL, 0);
	s.xsh = xs_open(0);
	if (!s.xch || !s.xsh || !s.t) {
		fprintf(stderr, "xsave: cannot open xenctrl/xenstore: %s\n", strerror(errno));
		return 1;
	}
	if (domain_state(&s) < 0) {
		fprintf(stderr, "xsave: no domain %u\n", s.domid);
		return 1;
	}
	snprintf(s.shutdown_path, sizeof(s.shutdown_path), "/local/domain/%u/control/shutdown",
		 s.domid);
	if (!xs_watch(s.xsh, "@releaseDomain", "release")) {
		fprintf(stderr, "xsave: xs_watch: %s\n", strerror(errno));
		return 1;
	}

	child = spawn(cmd, &s.fd, &from);
	if (child < 0) {
		fprintf(stderr, "xsave: starting the receiver: %s\n", strerror(errno));
		return 1;
	}
	if (read_banner(from)) {
		fprintf(stderr, "xsave: the receiver did not send its banner\n");
		return 1;
	}
	if (write_xl_header(&s) || write_libxl_header(&s))
		return 1;
	fprintf(s.log, "start t=%.6f domid=%u interval_ms=%u\n", now_ms() / 1e3, s.domid,
		s.interval_ms);

	rc = xc_domain_save(s.xch, s.fd, s.domid, XCFLAGS_LIVE, &cb, XC_STREAM_REMUS, -1);
	fprintf(s.log, "end t=%.6f rc=%d checkpoints=%" PRIu64 "%s\n", now_ms() / 1e3, rc, s.n,
		rc ? " (stream broken)" : " (stopped at a checkpoint boundary)");
	if (rc && s.suspended)
		resume_guest(&s);	/* never leave the primary suspended */
	if (pause_at_end && xc_domain_pause(s.xch, s.domid))
		fprintf(stderr, "xsave: pausing the primary: %s\n", strerror(errno));
	close(s.fd);		/* EOF at a checkpoint boundary: the backup fails over */
	report(&s);
	/* The receiver goes on running the backup; do not wait for it. */
	if (waitpid(child, &status, WNOHANG) == child)
		fprintf(s.log, "receiver exited with %d\n", WEXITSTATUS(status));
	close(from);
	return rc ? 1 : 0;
usage:
	fprintf(stderr, "usage: xsave [-i MS] [-n CHECKPOINTS] [-p] [-l LOG] -c 'RECEIVER CMD' DOMID\n");
	return 2;
}
