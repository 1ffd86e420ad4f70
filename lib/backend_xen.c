// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The xen backend. See backend_xen.h for the shape; the facts it relies on
 * (what xc_domain_save does with its callbacks, the stream formats, how
 * libxl's Remus receiver fails over) are in docs/xen.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
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
#include <libxl_utils.h>

#include "backend_xen.h"
#include "link.h"
#include "xen/stream.h"

#define XL_BANNER "xl migration receiver ready, send binary domain data.\n"
#define PUMP_CHUNK (1u << 20)

struct xen_backend {
	struct remus_xen_cfg *cfg;
	xc_interface *xch;
	struct xs_handle *xsh;
	xentoollog_logger_stdiostream *lg;
	libxl_ctx *ctx;
	uint32_t domid;
	char shutdown_path[64];
	bool suspended;
	struct remus_engine *e;

	/* The stream: xc_domain_save writes wfd, the pump reads rfd. */
	int rfd, wfd;
	pthread_t pump;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct remus_xs_walk walk;
	uint8_t *buf;		/* the open checkpoint's bytes */
	size_t len, cap;
	uint64_t done;		/* CHECKPOINT_ENDs the pump has seen */
	int pump_err;
	bool pump_eof;
};

/* ---- primary ---- */

static int domain_state(struct xen_backend *x)
{
	xc_domaininfo_t info;

	if (xc_domain_getinfolist(x->xch, x->domid, 1, &info) != 1 ||
	    info.domain != x->domid)
		return -ESRCH;
	if (info.flags & XEN_DOMINF_dying)
		return -ESRCH;
	return (info.flags & XEN_DOMINF_shutdown) &&
	       ((info.flags >> XEN_DOMINF_shutdownshift) &
		XEN_DOMINF_shutdownmask) == SHUTDOWN_suspend;
}

static double now_ms(void)
{
	return (double)remus_now_ns() / 1e6;
}

/*
 * The guest suspends itself when asked through control/shutdown (Linux
 * offers no suspend event channel): its kernel freezes tasks and devices,
 * then makes the suspend hypercall. Wait for SHUTDOWN_suspend, woken by
 * @releaseDomain.
 */
static int xb_suspend(struct remus_backend *b)
{
	struct xen_backend *x = b->priv;
	double deadline = now_ms() + x->cfg->suspend_timeout_ms;
	int st;

	if (!xs_write(x->xsh, XBT_NULL, x->shutdown_path, "suspend", 7))
		return 0;
	while ((st = domain_state(x)) == 0) {
		struct pollfd p = { .fd = xs_fileno(x->xsh), .events = POLLIN };
		int left = (int)(deadline - now_ms());
		unsigned int n;
		char **ev;

		if (left <= 0 || poll(&p, 1, left) <= 0)
			return 0;
		ev = xs_read_watch(x->xsh, &n);
		free(ev);
	}
	if (st < 0)
		return 0;
	x->suspended = true;
	return 1;
}

/* Fast resume: the suspend hypercall returns 1 to the guest (cancelled). */
static int xb_postcopy(struct remus_backend *b)
{
	struct xen_backend *x = b->priv;

	if (xc_domain_resume(x->xch, x->domid, 1) ||
	    !xs_resume_domain(x->xsh, x->domid))
		return 0;
	x->suspended = false;
	return 1;
}

static int xb_geometry(struct remus_backend *b, struct remus_hello *h)
{
	struct xen_backend *x = b->priv;
	xen_pfn_t max = 0;

	memset(h, 0, sizeof(*h));
	if (xc_domain_maximum_gpfn(x->xch, x->domid, &max) < 0)
		return -errno;
	h->page_size = XC_PAGE_SIZE;
	h->nr_regions = 1;
	h->nr_pages = (uint64_t)max + 1;
	h->regions[0].nr_pages = h->nr_pages;
	return 0;
}

static int xb_check(struct remus_backend *b)
{
	struct xen_backend *x = b->priv;

	return domain_state(x) < 0 ? -ESRCH : 0;
}

static int write_all(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;

	while (n) {
		ssize_t k = write(fd, p, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* What `xl migrate-receive` reads first: its header and the config. */
static int write_xl_header(struct xen_backend *x)
{
	libxl_domain_config cfg;
	uint8_t hdr[XL_HDR_LEN] = { 0 };
	uint32_t v, len;
	char *json;
	int err = -EIO;

	libxl_domain_config_init(&cfg);
	if (libxl_retrieve_domain_configuration(x->ctx, x->domid, &cfg, NULL))
		goto out;
	cfg.c_info.domid = 0;	/* the receiver picks its own */
	json = libxl_domain_config_to_json(x->ctx, &cfg);
	if (!json)
		goto out;
	len = (uint32_t)strlen(json) + 1;
	memcpy(hdr, XL_MAGIC, XL_MAGIC_LEN);
	v = XL_BYTEORDER;
	memcpy(hdr + 32, &v, 4);
	v = XL_MANDATORY_JSON | XL_MANDATORY_STREAMV2;
	memcpy(hdr + 36, &v, 4);
	v = 4 + len;
	memcpy(hdr + 44, &v, 4);
	err = write_all(x->wfd, hdr, sizeof(hdr));
	if (!err)
		err = write_all(x->wfd, &len, 4);
	if (!err)
		err = write_all(x->wfd, json, len);
	free(json);
out:
	libxl_domain_config_dispose(&cfg);
	return err;
}

static int write_libxl_header(struct xen_backend *x)
{
	const uint8_t h[LIBXL_HDR_LEN + REMUS_XS_REC_HDR_LEN] = {
		'L', 'i', 'b', 'x', 'l', 'F', 'm', 't',
		0, 0, 0, LIBXL_STREAM_VERSION, 0, 0, 0, 0,
		LIBXL_REC_LIBXC_CONTEXT, 0, 0, 0, 0, 0, 0, 0,
	};

	return write_all(x->wfd, h, sizeof(h));
}

/*
 * The pump: everything xc_domain_save writes, walked record by record so
 * that the open checkpoint ends exactly at its CHECKPOINT_END. It must
 * keep up: libxc writes the pages while the guest is suspended.
 */
static void *pump_main(void *arg)
{
	struct xen_backend *x = arg;
	uint8_t *chunk = malloc(PUMP_CHUNK);
	int err = 0;

	if (!chunk)
		err = -ENOMEM;
	while (!err) {
		ssize_t n = read(x->rfd, chunk, PUMP_CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : 0;
			break;
		}
		pthread_mutex_lock(&x->lock);
		if (x->len + (size_t)n > x->cap) {
			size_t cap = x->cap ? x->cap : PUMP_CHUNK;
			uint8_t *p;

			while (cap < x->len + (size_t)n)
				cap *= 2;
			p = cap > REMUS_BLOB_MAX ? NULL : realloc(x->buf, cap);
			if (!p) {
				pthread_mutex_unlock(&x->lock);
				err = -ENOMEM;
				break;
			}
			x->buf = p;
			x->cap = cap;
		}
		memcpy(x->buf + x->len, chunk, (size_t)n);
		x->len += (size_t)n;
		if (remus_xs_walk_feed(&x->walk, chunk, (size_t)n)) {
			pthread_mutex_unlock(&x->lock);
			err = -EBADMSG;
			break;
		}
		if (x->walk.checkpoints > x->done) {
			x->done = x->walk.checkpoints;
			pthread_cond_broadcast(&x->cond);
		}
		pthread_mutex_unlock(&x->lock);
	}
	pthread_mutex_lock(&x->lock);
	x->pump_err = err;
	x->pump_eof = true;
	pthread_cond_broadcast(&x->cond);
	pthread_mutex_unlock(&x->lock);
	free(chunk);
	return NULL;
}

/* libxc's callbacks: the seed's three, backed by the engine. */
static int cb_suspend(void *data)
{
	struct xen_backend *x = data;

	return remus_engine_suspend(x->e);
}

static int cb_postcopy(void *data)
{
	struct xen_backend *x = data;

	return remus_engine_postcopy(x->e);
}

/*
 * End the checkpoint in the stream, wait for the pump to hold all of it,
 * move it into the engine's staging slot; the engine sends it, waits for
 * acks as the pipeline needs, releases the buffers, waits the interval.
 */
static int cb_checkpoint(void *data)
{
	struct xen_backend *x = data;
	const uint8_t end[8] = { LIBXL_REC_CHECKPOINT_END };
	struct remus_ckpt *c = remus_engine_staging(x->e);
	uint64_t want;
	int err;

	if (!c)
		return 0;
	pthread_mutex_lock(&x->lock);
	want = x->done + 1;
	pthread_mutex_unlock(&x->lock);
	if (write_all(x->wfd, end, sizeof(end)))
		return -1;
	pthread_mutex_lock(&x->lock);
	while (x->done < want && !x->pump_eof)
		pthread_cond_wait(&x->cond, &x->lock);
	err = x->done < want ? -EIO : 0;
	if (!err) {
		/* All of it, up to and including CHECKPOINT_END. */
		err = remus_ckpt_set_state(c, x->buf, x->len);
		x->len = 0;
	}
	pthread_mutex_unlock(&x->lock);
	if (err)
		return -1;
	return remus_engine_checkpoint(x->e);
}

static int cb_logdirty(uint32_t domid, unsigned int enable, void *data)
{
	return 0;	/* PVH: no device model to tell */
}

static int xb_run(struct remus_backend *b, struct remus_engine *e)
{
	struct xen_backend *x = b->priv;
	struct save_callbacks cb = {
		.suspend = cb_suspend,
		.postcopy = cb_postcopy,
		.checkpoint = cb_checkpoint,
		.switch_qemu_logdirty = cb_logdirty,
		.data = x,
	};
	int p[2], rc, err;

	x->e = e;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	x->rfd = p[0];
	x->wfd = p[1];
	fcntl(x->wfd, F_SETPIPE_SZ, 1 << 20);
	remus_xs_walk_init(&x->walk, 1);
	if (pthread_create(&x->pump, NULL, pump_main, x)) {
		close(p[0]);
		close(p[1]);
		return -EAGAIN;
	}
	err = write_xl_header(x);
	if (!err)
		err = write_libxl_header(x);
	if (!err) {
		rc = xc_domain_save(x->xch, x->wfd, x->domid, XCFLAGS_LIVE, &cb,
				    XC_STREAM_REMUS, -1);
		err = rc ? -EIO : 0;
	}
	/* Never leave the guest suspended behind us. */
	if (x->suspended)
		remus_engine_postcopy(e);
	close(x->wfd);
	pthread_join(x->pump, NULL);
	close(x->rfd);
	if (domain_state(x) < 0)
		return -ESRCH;
	return err;
}

static const struct remus_backend_ops xen_ops = {
	.kind = "xen",
	.geometry = xb_geometry,
	.suspend = xb_suspend,
	.postcopy = xb_postcopy,
	.check = xb_check,
	.run = xb_run,
};

/* The guest's vifs, from the backend directory of dom0's xenstore. */
static void find_vifs(struct xen_backend *x)
{
	char path[64], **ents;
	unsigned int n, i;

	snprintf(path, sizeof(path), "/local/domain/0/backend/vif/%u",
		 x->domid);
	ents = xs_directory(x->xsh, XBT_NULL, path, &n);
	for (i = 0; ents && i < n && x->cfg->nr_vifs < 8; i++)
		snprintf(x->cfg->vifs[x->cfg->nr_vifs++], 16, "vif%u.%s",
			 x->domid, ents[i]);
	free(ents);
}

int remus_xen_backend_open(struct remus_backend *b, struct remus_xen_cfg *cfg,
			   const char **why)
{
	struct xen_backend *x = calloc(1, sizeof(*x));
	libxl_domain_config dc;
	char *end;
	int err = -ENOMEM;

	*why = NULL;
	if (!x)
		return -ENOMEM;
	x->cfg = cfg;
	if (!cfg->suspend_timeout_ms)
		cfg->suspend_timeout_ms = 30000;
	pthread_mutex_init(&x->lock, NULL);
	pthread_cond_init(&x->cond, NULL);
	/* Errors come back to the caller with a reason; libxc's own
	 * messages only for what it cannot tell us. */
	x->lg = xtl_createlogger_stdiostream(stderr, XTL_CRITICAL, 0);
	x->xch = xc_interface_open((xentoollog_logger *)x->lg,
				   (xentoollog_logger *)x->lg, 0);
	x->xsh = xs_open(0);
	if (!x->xch || !x->xsh ||
	    libxl_ctx_alloc(&x->ctx, LIBXL_VERSION, 0,
			    (xentoollog_logger *)x->lg)) {
		*why = "cannot open the Xen control interfaces: not a Xen dom0?";
		err = -EACCES;
		goto err;
	}
	x->domid = (uint32_t)strtoul(cfg->domain, &end, 10);
	if (*end || !*cfg->domain) {
		if (libxl_name_to_domid(x->ctx, cfg->domain, &x->domid)) {
			*why = "no such domain";
			err = -ENOENT;
			goto err;
		}
	}
	if (domain_state(x) < 0) {
		*why = "no such domain";
		err = -ENOENT;
		goto err;
	}
	libxl_domain_config_init(&dc);
	err = libxl_retrieve_domain_configuration(x->ctx, x->domid, &dc, NULL) ?
	      -EIO : 0;
	if (!err && dc.c_info.type == LIBXL_DOMAIN_TYPE_PV) {
		*why = "a PV guest: Debian's Xen is built without shadow paging, so a PV guest cannot enable log-dirty (use PVH)";
		err = -EOPNOTSUPP;
	} else if (!err && dc.c_info.type == LIBXL_DOMAIN_TYPE_HVM) {
		*why = "an HVM guest: device-model state is not supported (use PVH)";
		err = -EOPNOTSUPP;
	} else if (err) {
		*why = "cannot read the domain's configuration";
	}
	libxl_domain_config_dispose(&dc);
	if (err)
		goto err;
	cfg->domid = x->domid;
	snprintf(x->shutdown_path, sizeof(x->shutdown_path),
		 "/local/domain/%u/control/shutdown", x->domid);
	if (!xs_watch(x->xsh, "@releaseDomain", "remus")) {
		*why = "cannot watch xenstore";
		err = -EIO;
		goto err;
	}
	find_vifs(x);
	b->ops = &xen_ops;
	b->priv = x;
	return 0;

err:
	b->priv = x;
	remus_xen_backend_close(b);
	return err;
}

void remus_xen_backend_close(struct remus_backend *b)
{
	struct xen_backend *x = b->priv;

	if (!x)
		return;
	if (x->ctx)
		libxl_ctx_free(x->ctx);
	if (x->xsh)
		xs_close(x->xsh);
	if (x->xch)
		xc_interface_close(x->xch);
	if (x->lg)
		xtl_logger_destroy((xentoollog_logger *)x->lg);
	free(x->buf);
	pthread_cond_destroy(&x->cond);
	pthread_mutex_destroy(&x->lock);
	free(x);
	b->priv = NULL;
}

/* ---- backup ---- */

struct xen_sink {
	struct remus_xen_sink_cfg cfg;
	pid_t pid;		/* the receiver */
	int to, from;		/* its stdin, its stdout */
	uint8_t *staged;	/* the open checkpoint's stream */
	size_t len, cap;
	struct remus_xs_walk walk;	/* over what went to the receiver */
};

static pid_t spawn(const char *cmd, int *to, int *from)
{
	int in[2], out[2];
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	*to = in[1];
	*from = out[0];
	return pid;
}

static int read_banner(int fd, int timeout_ms)
{
	char buf[sizeof(XL_BANNER)];
	size_t have = 0;

	while (have < sizeof(XL_BANNER) - 1) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, timeout_ms) <= 0)
			return -ETIMEDOUT;
		n = read(fd, buf + have, sizeof(XL_BANNER) - 1 - have);
		if (n <= 0)
			return -EPIPE;
		have += (size_t)n;
	}
	return memcmp(buf, XL_BANNER, sizeof(XL_BANNER) - 1) ? -EPROTO : 0;
}

static int xs_hello(struct remus_backup_sink *s, const struct remus_hello *h)
{
	struct xen_sink *k = s->priv;

	if (k->pid > 0)
		/* libxl's receiver takes one stream: a new session would
		 * need a new domain. */
		return EBUSY;
	if (system("xl info >/dev/null 2>&1"))
		return ENODEV;	/* not a Xen dom0: nothing to restore into */
	return 0;
}

static int xs_state(struct remus_backup_sink *s, uint64_t epoch,
		    const struct remus_state *st)
{
	struct xen_sink *k = s->priv;

	if (st->offset != k->len || st->offset + st->len > st->total)
		return -EBADMSG;
	if (st->total > k->cap) {
		uint8_t *p = realloc(k->staged, st->total);

		if (!p)
			return -ENOMEM;
		k->staged = p;
		k->cap = st->total;
	}
	memcpy(k->staged + k->len, st->data, st->len);
	k->len += st->len;
	return 0;
}

static int xs_page(struct remus_backup_sink *s, uint64_t epoch,
		   const struct remus_batch_item *it)
{
	return -EPROTO;	/* pages travel inside the Xen stream */
}

/*
 * A whole, verified checkpoint: only now does it reach libxl, which
 * buffers it until its CHECKPOINT_END and applies it then. The stream it
 * sees therefore always ends at a checkpoint boundary.
 */
static int xs_commit(struct remus_backup_sink *s, uint64_t epoch)
{
	struct xen_sink *k = s->priv;
	uint64_t before = k->walk.checkpoints;
	int err;

	if (remus_xs_walk_feed(&k->walk, k->staged, k->len) ||
	    k->walk.checkpoints != before + 1 ||
	    k->walk.boundary != k->walk.offset)
		return -EBADMSG;	/* not exactly one whole checkpoint */
	if (k->pid <= 0) {
		k->pid = spawn(k->cfg.receiver, &k->to, &k->from);
		if (k->pid < 0)
			return -errno;
		err = read_banner(k->from, 30000);
		if (err)
			return err;
	}
	err = write_all(k->to, k->staged, k->len);
	k->len = 0;
	return err;
}

static void xs_discard(struct remus_backup_sink *s)
{
	struct xen_sink *k = s->priv;

	k->len = 0;
}

/* The stream ends at a checkpoint boundary: libxl fails over to it. */
static int xs_failover(struct remus_backup_sink *s)
{
	struct xen_sink *k = s->priv;

	if (k->pid <= 0)
		return -ENODATA;
	close(k->to);
	k->to = -1;
	return 0;
}

static const struct remus_backup_sink_ops xen_sink_ops = {
	.kind = "xen",
	.hello = xs_hello,
	.page = xs_page,
	.state = xs_state,
	.commit = xs_commit,
	.discard = xs_discard,
	.failover = xs_failover,
};

int remus_xen_sink_open(struct remus_backup_sink *s,
			const struct remus_xen_sink_cfg *cfg)
{
	struct xen_sink *k = calloc(1, sizeof(*k));

	if (!k)
		return -ENOMEM;
	k->cfg = *cfg;
	if (!k->cfg.receiver)
		k->cfg.receiver = "xl migrate-receive -r -e";
	k->to = k->from = -1;
	remus_xs_walk_init(&k->walk, 1);
	s->ops = &xen_sink_ops;
	s->priv = k;
	return 0;
}

void remus_xen_sink_close(struct remus_backup_sink *s)
{
	struct xen_sink *k = s->priv;

	if (!k)
		return;
	if (k->to >= 0)
		close(k->to);
	if (k->from >= 0)
		close(k->from);
	free(k->staged);
	free(k);
	s->priv = NULL;
}
