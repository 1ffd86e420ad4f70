// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The xen backend. See backend_xen.h for the shape; the facts it relies on
 * (what xc_domain_save does with its callbacks, the stream formats, how
 * libxl's Remus receiver fails over) are in docs/xen.md.
 */
#include <errno.h>
#include <inttypes.h>
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
#include "xen/pagedelta.h"
#include "xen/stream.h"

#define XL_BANNER "xl migration receiver ready, send binary domain data.\n"
#define PUMP_CHUNK (1u << 20)
/* An idle buffer up to this size is kept whatever the next needs. */
#define TRIM_MIN (8u << 20)
/* A suspend request the guest has not taken after this is written again. */
#define REASK_MS 500
/* The least a guest runs between a resume and the next suspend request. */
#define SETTLE_MS 50

struct xen_backend {
	struct remus_xen_cfg *cfg;
	xc_interface *xch;
	struct xs_handle *xsh;
	xentoollog_logger_stdiostream *lg;
	libxl_ctx *ctx;
	uint32_t domid;
	char shutdown_path[64];
	bool suspended;
	bool shutdown_said;	/* its own shutdown was logged */
	double resumed_ms;	/* when the last fast resume returned */
	uint64_t reasks;	/* suspend requests written again */
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
	uint64_t page_bytes;	/* walker's PAGE_DATA bytes at the last cut */
	int pump_err;
	bool pump_eof;

	/* Page delta (cfg->delta_cache_mib): the encoder, and the buffer
	 * the original stream lands in once the container replaces it. */
	bool delta;
	struct remus_xd_enc xd;
	uint8_t *xbuf;
	size_t xcap;
};

/* ---- primary ---- */

/*
 * 1 suspended, 0 running; -ESRCH gone or dying; -ESHUTDOWN shut down for
 * another reason, which goes to *reason (SHUTDOWN_*): the guest powered
 * off, rebooted or crashed on its own (a triple fault is a reboot).
 */
static int domain_state_why(struct xen_backend *x, unsigned int *reason)
{
	xc_domaininfo_t info;
	unsigned int why;

	if (xc_domain_getinfolist(x->xch, x->domid, 1, &info) != 1 ||
	    info.domain != x->domid)
		return -ESRCH;
	if (info.flags & XEN_DOMINF_dying)
		return -ESRCH;
	if (!(info.flags & XEN_DOMINF_shutdown))
		return 0;
	why = (info.flags >> XEN_DOMINF_shutdownshift) & XEN_DOMINF_shutdownmask;
	if (why == SHUTDOWN_suspend)
		return 1;
	if (reason)
		*reason = why;
	return -ESHUTDOWN;
}

static int domain_state(struct xen_backend *x)
{
	return domain_state_why(x, NULL);
}

static const char *shutdown_name(unsigned int why)
{
	switch (why) {
	case SHUTDOWN_poweroff:	return "poweroff";
	case SHUTDOWN_reboot:	return "reboot, or a triple fault";
	case SHUTDOWN_crash:	return "crash";
	case SHUTDOWN_watchdog:	return "watchdog";
	case SHUTDOWN_soft_reset: return "soft reset";
	default:		return "unknown reason";
	}
}

/* Once per domain: the guest's own shutdown ends its protection. */
static void shutdown_log(struct xen_backend *x, unsigned int why)
{
	if (x->shutdown_said)
		return;
	x->shutdown_said = true;
	remus_log(remus_engine_ctx(x->e), REMUS_LOG_ERR,
		  "domain %u shut itself down (%s) instead of suspending: its protection ends here (xl dmesg says more)",
		  x->domid, shutdown_name(why));
}

static double now_ms(void)
{
	return (double)remus_now_ns() / 1e6;
}

/* Said at the 1st, 10th, 100th... time: a guest that loses them often
 * does not fill the log. */
static void reask_log(struct xen_backend *x)
{
	uint64_t n = ++x->reasks, p = 1;

	while (p * 10 <= n)
		p *= 10;
	if (n == p)
		remus_log(remus_engine_ctx(x->e), REMUS_LOG_WARN,
			  "domain %u had not taken a suspend request: asked again (%" PRIu64 " time%s so far)",
			  x->domid, n, n == 1 ? "" : "s");
}

/*
 * The guest suspends itself when asked through control/shutdown (Linux
 * offers no suspend event channel): its kernel freezes tasks and devices,
 * then makes the suspend hypercall. Wait for SHUTDOWN_suspend, woken by
 * @releaseDomain, which also fires when the domain dies: a domain being
 * destroyed (`xl destroy` pauses it, then tears its devices down) never
 * suspends, and the wait ends when it is gone instead of at the deadline.
 */
static int xb_suspend(struct remus_backend *b)
{
	struct xen_backend *x = b->priv;
	double deadline = now_ms() + x->cfg->suspend_timeout_ms;
	double asked = now_ms(), reask = REASK_MS;
	unsigned int why = 0;
	int st;

	st = domain_state_why(x, &why);
	if (st == 0 &&
	    !xs_write(x->xsh, XBT_NULL, x->shutdown_path, "suspend", 7))
		return 0;
	while (st == 0) {
		struct pollfd p = { .fd = xs_fileno(x->xsh), .events = POLLIN };
		int left = (int)(deadline - now_ms());
		unsigned int n;
		char **ev;

		if (left <= 0)
			break;
		/* Poll in slices: a dying domain is seen even if the
		 * watch event is lost. */
		if (poll(&p, 1, left < 500 ? left : 500) > 0) {
			ev = xs_read_watch(x->xsh, &n);
			free(ev);
		}
		st = domain_state_why(x, &why);
		/*
		 * A guest takes the request by clearing it. One still there
		 * after a while was not seen (a request written while the
		 * guest was still resuming from the last one can be lost,
		 * and the guest then never suspends): ask again, which
		 * fires its watch again; a second event that finds the key
		 * empty is ignored by the guest.
		 */
		if (st == 0 && now_ms() - asked >= reask) {
			char *v = xs_read(x->xsh, XBT_NULL, x->shutdown_path, &n);

			if (v && n == 7 && !memcmp(v, "suspend", 7)) {
				xs_write(x->xsh, XBT_NULL, x->shutdown_path, "suspend", 7);
				reask_log(x);
			}
			free(v);
			asked = now_ms();
			/* Backing off: each write may restart a transaction
			 * the guest has open on that key. */
			reask *= 2;
		}
	}
	if (st != 1) {
		/* Not suspended: take the request back, or the guest
		 * suspends later with nobody to resume it. */
		if (st == 0)
			xs_write(x->xsh, XBT_NULL, x->shutdown_path, "", 0);
		if (st == -ESHUTDOWN && x->e)
			shutdown_log(x, why);
		return 0;
	}
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
	x->resumed_ms = now_ms();
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
	int st = domain_state(x);

	return st < 0 ? st : 0;
}

/*
 * The pause policy's hold: Xen pauses the domain's vCPUs, with nothing
 * asked of the guest (a suspend request can take up to the suspend
 * timeout, or never be taken). `xl unpause` lets it go by hand.
 */
static int xb_hold(struct remus_backend *b, bool on)
{
	struct xen_backend *x = b->priv;
	int st = domain_state(x);

	if (st < 0)
		return st;
	if (on ? xc_domain_pause(x->xch, x->domid) :
		 xc_domain_unpause(x->xch, x->domid))
		return -errno;
	if (on && x->e)
		remus_log(remus_engine_ctx(x->e), REMUS_LOG_NOTICE,
			  "domain %u paused (`xl unpause %u` lets it run unprotected)",
			  x->domid, x->domid);
	return 0;
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
	/*
	 * A stream we cannot walk (or no memory for it): libxc must not
	 * block on a full pipe with the guest suspended, so its next write
	 * fails (EPIPE) and xc_domain_save returns.
	 */
	if (err) {
		close(x->rfd);
		x->rfd = -1;
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
	double settle = x->resumed_ms + SETTLE_MS - now_ms();

	/*
	 * A checkpoint that is late asks at once; the guest may still be
	 * resuming from the last one. Asked then, Linux guests were seen
	 * to never take the request (re-asks or not, the 30 s timeout
	 * went by), most of all on the checkpoint right after the first:
	 * give it SETTLE_MS after each resume. Before the engine's clock
	 * starts: the guest runs meanwhile, it is no part of the pause.
	 */
	if (x->resumed_ms && settle > 0) {
		struct timespec ts = { 0, (long)(settle * 1e6) };

		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
	}
	return remus_engine_suspend(x->e);
}

static int cb_postcopy(void *data)
{
	struct xen_backend *x = data;

	return remus_engine_postcopy(x->e);
}

/*
 * A buffer going idle, with a hint of what the next checkpoint needs
 * (this one's size): one much larger goes, so that the first checkpoint's
 * whole copy (146 MB for a 128 MiB guest) is not held by every buffer for
 * good, while the steady ones (2 MB) keep theirs. It grows again by
 * doubling when a checkpoint needs it.
 */
static void trim(uint8_t **buf, size_t *cap, size_t hint)
{
	if (*cap > TRIM_MIN && *cap / 4 > hint) {
		free(*buf);
		*buf = NULL;
		*cap = 0;
	}
}

/*
 * The checkpoint's stream bytes in c->state become the delta container;
 * the original goes to x->xbuf, the container's buffer next time.
 */
static int encode_state(struct xen_backend *x, struct remus_ckpt *c)
{
	uint8_t *raw = c->state;
	size_t cap = c->state_cap, len;
	int err;

	/* More pages than the cache holds (the first checkpoint): they
	 * would only evict each other, at twice the memory. */
	if (c->st.pages > x->xd.cache.nslots)
		return remus_xd_pass(&x->xd, c->state, c->state_len);
	err = remus_xd_encode(&x->xd, c->state, c->state_len, &x->xbuf,
			      &x->xcap, &len);
	if (err)
		return err;
	c->state = x->xbuf;
	c->state_cap = x->xcap;
	c->state_len = len;
	x->xbuf = raw;
	x->xcap = cap;
	trim(&x->xbuf, &x->xcap, len);
	return 0;
}

/*
 * End the checkpoint in the stream, wait for the pump to hold all of it,
 * hand it to the engine's staging slot (the buffers change owners: 146 MB
 * for a first checkpoint of a 128 MiB guest is not copied); the engine
 * sends it, waits for acks as the pipeline needs, releases the buffers,
 * waits the interval. Returns what libxc wants: > 0 go on, 0 stop (the
 * engine said so: xc_domain_save then returns 0), < 0 error.
 */
static int cb_checkpoint(void *data)
{
	struct xen_backend *x = data;
	const uint8_t end[8] = { LIBXL_REC_CHECKPOINT_END };
	struct remus_ckpt *c = remus_engine_staging(x->e);
	uint64_t want, page_bytes;
	int err;

	if (!c)
		return -1;
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
		/*
		 * All of it, up to and including CHECKPOINT_END: nothing
		 * follows in the pipe until the next suspend, which comes
		 * after this callback.
		 */
		uint8_t *p = c->state;
		size_t cap = c->state_cap;

		c->state = x->buf;
		c->state_len = x->len;
		c->state_cap = x->cap;
		x->buf = p;
		x->cap = cap;
		x->len = 0;
		trim(&x->buf, &x->cap, c->state_len);
		/* PAGE_DATA: 8 bytes of header per record, then per page
		 * an 8-byte pfn and (nearly always) its 4096 bytes. */
		page_bytes = x->walk.page_bytes - x->page_bytes;
		x->page_bytes = x->walk.page_bytes;
		c->st.pages = page_bytes / (XC_PAGE_SIZE + 8);
		/* The original size, also with the delta: what the engine
		 * counts as raw, so that its ratio is original / wire. */
		c->st.state_bytes = c->state_len;
	}
	pthread_mutex_unlock(&x->lock);
	if (!err && x->delta)
		err = encode_state(x, c);
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
	int p[2], rc, err, st;

	x->e = e;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	x->rfd = p[0];
	x->wfd = p[1];
	fcntl(x->wfd, F_SETPIPE_SZ, 1 << 20);
	/* Every run is a new stream, from its xl header on (re-pairing). */
	remus_xs_walk_init(&x->walk, 1);
	x->len = 0;
	x->done = 0;
	x->page_bytes = 0;
	x->pump_err = 0;
	x->pump_eof = false;
	if (x->delta)
		remus_xd_enc_reset(&x->xd);
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
	if (x->rfd >= 0)
		close(x->rfd);
	st = domain_state(x);
	return st < 0 ? st : err;
}

static const struct remus_backend_ops xen_ops = {
	.kind = "xen",
	.geometry = xb_geometry,
	.suspend = xb_suspend,
	.postcopy = xb_postcopy,
	.check = xb_check,
	.run = xb_run,
	.hold = xb_hold,
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
	/*
	 * libxc's errors go to stderr: they say what failed inside
	 * xc_domain_save, which only returns -1. (An orderly stop makes it
	 * log "Save failed" although it returns 0.)
	 */
	x->lg = xtl_createlogger_stdiostream(stderr, XTL_ERROR, 0);
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
	if (cfg->delta_cache_mib) {
		err = remus_xd_enc_init(&x->xd, (size_t)cfg->delta_cache_mib *
					((1u << 20) / REMUS_XD_PAGE_SIZE));
		if (err) {
			*why = err == -EINVAL ? "delta cache larger than 1024 MiB" :
			       "no memory for the delta cache";
			goto err;
		}
		x->delta = true;
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
	if (x->delta)
		remus_xd_enc_fini(&x->xd);
	free(x->xbuf);
	pthread_cond_destroy(&x->cond);
	pthread_mutex_destroy(&x->lock);
	free(x);
	b->priv = NULL;
}

/* ---- backup ---- */

/* A whole checkpoint waiting for the receiver. */
struct qitem {
	uint8_t *buf;
	size_t len;
	struct qitem *next;
};

/*
 * The sink acknowledges a checkpoint once it holds it whole and verified
 * in memory, queued for the receiver: from there nothing but the
 * receiver's death keeps it from libxl, and failover first hands libxl
 * everything queued. A writer thread feeds the receiver, so the session
 * keeps reading, acking and sending heartbeats while libxl applies the
 * first checkpoint (146 MB for a 128 MiB guest, tens of seconds under
 * nested TCG).
 */
struct xen_sink {
	struct remus_xen_sink_cfg cfg;
	pid_t pid;		/* the receiver, leader of its process group */
	int to, from;		/* its stdin, its stdout */
	uint8_t *staged;	/* the open checkpoint's stream */
	bool verified;		/* staged is one whole checkpoint */
	bool json_open;		/* json came from the uncommitted one */
	size_t len, cap;
	struct remus_xs_walk walk;	/* over what was committed */
	struct remus_xd_dec xd;		/* the primary's page delta */
	char *json;		/* the domain's configuration, from xl's header */

	pthread_t writer;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool started;		/* writer and receiver */
	bool closing;		/* writer: end the stream when drained */
	bool writer_done;
	bool failed_over;
	int werr;		/* the receiver is gone or refused */
	struct qitem *head, *tail;
	size_t queued;
	uint64_t handed;	/* checkpoints written to the receiver */
};

static pid_t spawn(const char *cmd, int *to, int *from)
{
	int in[2], out[2];
	pid_t pid;

	if (pipe2(in, O_CLOEXEC))
		return -1;
	if (pipe2(out, O_CLOEXEC)) {
		close(in[0]);
		close(in[1]);
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		return -1;
	}
	if (!pid) {
		/* Its own process group: a stop kills the whole pipeline. */
		setpgid(0, 0);
		dup2(in[0], 0);
		dup2(out[1], 1);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);
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

		if (remus_poll(&p, 1, timeout_ms) <= 0)
			return -ETIMEDOUT;
		n = read(fd, buf + have, sizeof(XL_BANNER) - 1 - have);
		if (n <= 0)
			return -EPIPE;
		have += (size_t)n;
	}
	return memcmp(buf, XL_BANNER, sizeof(XL_BANNER) - 1) ? -EPROTO : 0;
}

static void *writer_main(void *arg)
{
	struct xen_sink *k = arg;
	int err = 0;
	pid_t pid;

	pid = spawn(k->cfg.receiver ? k->cfg.receiver :
		    "exec xl migrate-receive -r -e", &k->to, &k->from);
	pthread_mutex_lock(&k->lock);
	k->pid = pid;
	pthread_mutex_unlock(&k->lock);
	if (pid < 0)
		err = -errno;
	else
		err = read_banner(k->from, 60000);
	pthread_mutex_lock(&k->lock);
	if (err)
		k->werr = err;
	while (!err) {
		struct qitem *q;

		while (!k->head && !k->closing)
			pthread_cond_wait(&k->cond, &k->lock);
		q = k->head;
		if (!q)
			break;	/* closing, and everything handed over */
		pthread_mutex_unlock(&k->lock);
		err = write_all(k->to, q->buf, q->len);
		pthread_mutex_lock(&k->lock);
		k->head = q->next;
		if (!k->head)
			k->tail = NULL;
		k->queued -= q->len;
		free(q->buf);
		free(q);
		if (err)
			k->werr = err;
		else
			k->handed++;
		pthread_cond_broadcast(&k->cond);
	}
	/* EOF at a checkpoint boundary: libxl fails over to the last one. */
	if (k->closing && k->to >= 0) {
		close(k->to);
		k->to = -1;
	}
	k->writer_done = true;
	pthread_cond_broadcast(&k->cond);
	pthread_mutex_unlock(&k->lock);
	return NULL;
}

/* What was queued for the receiver, and the pipes to it: gone. */
static void queue_drop(struct xen_sink *k)
{
	struct qitem *q;

	while ((q = k->head)) {
		k->head = q->next;
		free(q->buf);
		free(q);
	}
	k->tail = NULL;
	if (k->to >= 0)
		close(k->to);
	if (k->from >= 0)
		close(k->from);
	k->to = k->from = -1;
}

/*
 * Stop the receiver without a failover: it must not see its stream end
 * (that *is* failover), so it is killed, with its process group.
 */
static void receiver_kill(struct xen_sink *k)
{
	if (!k->started)
		return;
	pthread_mutex_lock(&k->lock);
	if (k->pid > 0)
		kill(-k->pid, SIGKILL);
	k->closing = true;
	k->werr = k->werr ? k->werr : -ECANCELED;
	pthread_cond_broadcast(&k->cond);
	pthread_mutex_unlock(&k->lock);
	pthread_join(k->writer, NULL);
	if (k->pid > 0)
		while (waitpid(k->pid, NULL, 0) < 0 && errno == EINTR)
			;
	queue_drop(k);
	k->queued = 0;
	k->handed = 0;
	k->pid = -1;
	k->werr = 0;
	k->closing = k->writer_done = false;
	k->started = false;
}

static int xs_hello(struct remus_backup_sink *s, const struct remus_hello *h)
{
	struct xen_sink *k = s->priv;

	if (k->started) {
		/* libxl's receiver takes one stream: once it holds a
		 * checkpoint, a new session would need a new domain. */
		if (k->json)
			return EBUSY;
		/* Nothing committed yet (the last session died in its
		 * first checkpoint): start over with a fresh receiver. */
		receiver_kill(k);
	}
	/* Not a Xen dom0: nothing to restore into. (A receiver of the
	 * caller's choice may restore elsewhere: it is its own check.) */
	if (!k->cfg.receiver && access("/proc/xen/privcmd", R_OK | W_OK) &&
	    access("/dev/xen/privcmd", R_OK | W_OK))
		return ENODEV;
	remus_xs_walk_init(&k->walk, 1);
	remus_xd_dec_reset(&k->xd);
	k->len = 0;
	/* Start the receiver now: xl takes its time to come up. */
	if (pthread_create(&k->writer, NULL, writer_main, k))
		return -EAGAIN;
	k->started = true;
	return 0;
}

/*
 * A whole blob: when it is a page-delta container, the original stream
 * replaces it. Done here, before the END that acks it, so a checkpoint
 * that does not decode is never acked, and never reaches libxl.
 */
static int decode_staged(struct xen_sink *k)
{
	uint8_t *raw;
	size_t len;
	int ret;

	ret = remus_xd_decode(&k->xd, k->staged, k->len, REMUS_BLOB_MAX, &raw,
			      &len);
	if (ret <= 0)
		return ret;
	free(k->staged);
	k->staged = raw;
	k->len = k->cap = len;
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
	return k->len == st->total ? decode_staged(k) : 0;
}

static int xs_page(struct remus_backup_sink *s, uint64_t epoch,
		   const struct remus_batch_item *it)
{
	return -EPROTO;	/* pages travel inside the Xen stream */
}

/* The configuration xl's header carries (the first checkpoint starts
 * with it): u32 length, then the JSON with its NUL. */
static int take_config(struct xen_sink *k)
{
	uint32_t optlen, len;

	if (k->len < XL_HDR_LEN + 4)
		return -EBADMSG;
	memcpy(&optlen, k->staged + 44, 4);
	memcpy(&len, k->staged + XL_HDR_LEN, 4);
	if (!len || optlen < 4 || len > optlen - 4 ||
	    XL_HDR_LEN + 4 + (size_t)len > k->len ||
	    k->staged[XL_HDR_LEN + 4 + len - 1])
		return -EBADMSG;
	k->json = strdup((const char *)k->staged + XL_HDR_LEN + 4);
	return k->json ? 0 : -ENOMEM;
}

/*
 * A whole, verified checkpoint: queued for libxl, which buffers it until
 * its CHECKPOINT_END and applies it then. The stream libxl sees always
 * ends at a checkpoint boundary.
 */
static int xs_verify(struct remus_backup_sink *s, uint64_t epoch)
{
	struct xen_sink *k = s->priv;
	uint64_t before = k->walk.checkpoints;

	if (remus_xs_walk_feed(&k->walk, k->staged, k->len) ||
	    k->walk.checkpoints != before + 1 ||
	    k->walk.boundary != k->walk.offset)
		return -EBADMSG;	/* not exactly one whole checkpoint */
	k->verified = true;
	if (k->json)
		return 0;
	k->json_open = true;
	return take_config(k);
}

static int xs_commit(struct remus_backup_sink *s, uint64_t epoch)
{
	struct xen_sink *k = s->priv;
	struct qitem *q;
	int err;

	if (!k->verified)
		return -EBADMSG;	/* verify() comes first, always */
	k->verified = false;
	k->json_open = false;
	q = malloc(sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->buf = k->staged;
	q->len = k->len;
	q->next = NULL;
	k->staged = NULL;
	k->len = k->cap = 0;

	pthread_mutex_lock(&k->lock);
	/* Bounded: a receiver that does not keep up slows the session. */
	while (!k->werr && k->queued && k->queued + q->len > k->cfg.queue_max)
		pthread_cond_wait(&k->cond, &k->lock);
	err = k->werr;
	if (!err) {
		if (k->tail)
			k->tail->next = q;
		else
			k->head = q;
		k->tail = q;
		k->queued += q->len;
		pthread_cond_broadcast(&k->cond);
	}
	pthread_mutex_unlock(&k->lock);
	if (err) {
		free(q->buf);
		free(q);
	}
	return err;
}

static void xs_discard(struct remus_backup_sink *s)
{
	struct xen_sink *k = s->priv;

	/* Verified but never committed (the ack did not go): a first
	 * checkpoint's configuration goes with it, so that a new session
	 * may start over. */
	if (k->json_open) {
		free(k->json);
		k->json = NULL;
		k->json_open = false;
	}
	k->verified = false;
	k->len = 0;
}

/* Everything committed goes to libxl, then the stream ends there. */
static int xs_failover(struct remus_backup_sink *s)
{
	struct xen_sink *k = s->priv;
	struct timespec ts;
	int err = 0;

	if (!k->started || !k->json)
		return -ENODATA;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 120;
	pthread_mutex_lock(&k->lock);
	k->closing = true;
	pthread_cond_broadcast(&k->cond);
	while (!k->writer_done && !err)
		err = pthread_cond_timedwait(&k->cond, &k->lock, &ts);
	if (!err)
		err = k->werr;
	else
		err = -ETIMEDOUT;	/* the receiver does not read */
	pthread_mutex_unlock(&k->lock);
	if (err == -ETIMEDOUT) {
		if (k->pid > 0)
			kill(-k->pid, SIGKILL);
		return err;
	}
	pthread_join(k->writer, NULL);
	k->started = false;
	k->failed_over = !err;
	return err;
}

static const struct remus_backup_sink_ops xen_sink_ops = {
	.kind = "xen",
	.hello = xs_hello,
	.page = xs_page,
	.state = xs_state,
	.verify = xs_verify,
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
	if (!k->cfg.queue_max)
		k->cfg.queue_max = 256u << 20;
	k->to = k->from = -1;
	k->pid = -1;
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->cond, NULL);
	remus_xs_walk_init(&k->walk, 1);
	remus_xd_dec_init(&k->xd);
	s->ops = &xen_sink_ops;
	s->priv = k;
	return 0;
}

static libxl_ctx *open_libxl(xentoollog_logger_stdiostream **lg)
{
	libxl_ctx *ctx = NULL;

	*lg = xtl_createlogger_stdiostream(stderr, XTL_ERROR, 0);
	if (!*lg)
		return NULL;
	if (libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0, (xentoollog_logger *)*lg)) {
		xtl_logger_destroy((xentoollog_logger *)*lg);
		*lg = NULL;
		return NULL;
	}
	return ctx;
}

static void close_libxl(libxl_ctx *ctx, xentoollog_logger_stdiostream *lg)
{
	if (ctx)
		libxl_ctx_free(ctx);
	if (lg)
		xtl_logger_destroy((xentoollog_logger *)lg);
}

int remus_xen_sink_wait(struct remus_backup_sink *s, unsigned int timeout_ms,
			struct remus_xen_failover *fo)
{
	struct xen_sink *k = s->priv;
	xentoollog_logger_stdiostream *lg;
	libxl_domain_config dc;
	uint64_t deadline = remus_now_ns() + timeout_ms * 1000000ull;
	char incoming[80];
	libxl_ctx *ctx;
	uint32_t domid;
	int i, st, err = 0;

	memset(fo, 0, sizeof(*fo));
	fo->receiver_status = -1;
	fo->checkpoints = k->handed;
	if (!k->failed_over)
		return -ENODATA;
	while (k->pid > 0) {
		pid_t w = waitpid(k->pid, &st, WNOHANG);

		if (w == k->pid) {
			fo->receiver_status = st;
			k->pid = -1;
			break;
		}
		if (w < 0 && errno != EINTR)
			break;
		if (remus_now_ns() >= deadline) {
			err = -ETIMEDOUT;
			break;
		}
		usleep(20000);
	}
	ctx = open_libxl(&lg);
	if (!ctx)
		return err ? err : -EACCES;
	libxl_domain_config_init(&dc);
	if (libxl_domain_config_from_json(ctx, &dc, k->json)) {
		err = err ? err : -EBADMSG;
		goto out;
	}
	snprintf(fo->name, sizeof(fo->name), "%s",
		 dc.c_info.name ? dc.c_info.name : "");
	for (i = 0; i < dc.num_nics && fo->nr_nics < 8; i++) {
		struct remus_xen_nic *n = &fo->nics[fo->nr_nics++];

		memcpy(n->mac, dc.nics[i].mac, 6);
		snprintf(n->bridge, sizeof(n->bridge), "%s",
			 dc.nics[i].bridge ? dc.nics[i].bridge : "");
	}
	/*
	 * The receiver renames NAME--incoming to NAME; that fails while
	 * another domain holds NAME (the old primary, in a test on one
	 * host). Look for the incoming name first: NAME may be that other.
	 */
	snprintf(incoming, sizeof(incoming), "%s--incoming", fo->name);
	if (!libxl_name_to_domid(ctx, incoming, &domid)) {
		fo->domid = domid;
	} else if (!libxl_name_to_domid(ctx, fo->name, &domid)) {
		fo->domid = domid;
		fo->renamed = true;
	} else if (!err) {
		err = -ESRCH;
	}
out:
	libxl_domain_config_dispose(&dc);
	close_libxl(ctx, lg);
	return err;
}

int remus_xen_sink_rename(struct remus_backup_sink *s,
			  struct remus_xen_failover *fo)
{
	xentoollog_logger_stdiostream *lg;
	char incoming[80];
	libxl_ctx *ctx;
	int err;

	if (fo->renamed || !fo->domid)
		return 0;
	ctx = open_libxl(&lg);
	if (!ctx)
		return -EACCES;
	snprintf(incoming, sizeof(incoming), "%s--incoming", fo->name);
	err = libxl_domain_rename(ctx, fo->domid, incoming, fo->name) ?
	      -EEXIST : 0;
	if (!err)
		fo->renamed = true;
	close_libxl(ctx, lg);
	return err;
}

void remus_xen_sink_close(struct remus_backup_sink *s)
{
	struct xen_sink *k = s->priv;

	if (!k)
		return;
	if (k->started) {
		/* No failover: take down the domain it was building. */
		xentoollog_logger_stdiostream *lg;
		libxl_domain_config dc;
		libxl_ctx *ctx;
		uint32_t domid;
		char incoming[80];

		receiver_kill(k);
		ctx = k->json ? open_libxl(&lg) : NULL;
		if (ctx) {
			libxl_domain_config_init(&dc);
			if (!libxl_domain_config_from_json(ctx, &dc, k->json) &&
			    dc.c_info.name) {
				snprintf(incoming, sizeof(incoming),
					 "%s--incoming", dc.c_info.name);
				if (!libxl_name_to_domid(ctx, incoming, &domid))
					libxl_domain_destroy(ctx, domid, NULL);
			}
			libxl_domain_config_dispose(&dc);
			close_libxl(ctx, lg);
		}
	}
	queue_drop(k);
	if (k->pid > 0)
		waitpid(k->pid, NULL, WNOHANG);
	free(k->staged);
	free(k->json);
	remus_xd_dec_fini(&k->xd);
	pthread_cond_destroy(&k->cond);
	pthread_mutex_destroy(&k->lock);
	free(k);
	s->priv = NULL;
}
