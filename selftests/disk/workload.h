/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The disk suite's guest: seeded random I/O on a device, mirrored into an
 * in-memory image of what the device must hold afterwards. Writes of one
 * sector to 2 MiB at any sector (not only 4 KiB aligned), discards and
 * write-zeroes (read back as zeros), flushes and FUA writes (O_DSYNC).
 */
#ifndef WORKLOAD_H
#define WORKLOAD_H

#include <pthread.h>

#include "disktest.h"

#define WL_BIG_SECTORS	4096		/* 2 MiB: split by the target */

struct wl {
	int fd;				/* O_DIRECT */
	int fua_fd;			/* O_DIRECT | O_DSYNC */
	unsigned char *img;		/* the whole device's image */
	uint64_t first, sectors;	/* the part this writer owns */
	uint64_t seed;
	unsigned char *buf;		/* WL_BIG_SECTORS, aligned */
	unsigned int no_discard:1;
	/* counts, for the test to check every kind ran */
	unsigned int writes, fuas, discards, zeroes, flushes;
	int err;
};

static inline int wl_init(struct wl *w, uint32_t devnum, unsigned char *img,
			  uint64_t first, uint64_t sectors, uint64_t seed)
{
	memset(w, 0, sizeof(*w));
	w->fd = dm_open(devnum, O_RDWR | O_DIRECT);
	w->fua_fd = dm_open(devnum, O_RDWR | O_DIRECT | O_DSYNC);
	w->buf = abuf(WL_BIG_SECTORS * SECT);
	if (w->fd < 0 || w->fua_fd < 0 || !w->buf)
		return -errno ?: -ENOMEM;
	w->img = img;
	w->first = first;
	w->sectors = sectors;
	w->seed = seed | 1;
	return 0;
}

static inline void wl_fini(struct wl *w)
{
	if (w->fd >= 0)
		close(w->fd);
	if (w->fua_fd >= 0)
		close(w->fua_fd);
	free(w->buf);
	w->buf = NULL;
}

/* One operation of epoch e; 0 or -errno. */
static inline int wl_op(struct wl *w, uint64_t epoch, uint64_t op)
{
	uint64_t r = rnd(&w->seed) % 100, len, sector;
	uint64_t range[2];

	if (r < 72) {
		if (r < 4)
			len = 1 + rnd(&w->seed) % WL_BIG_SECTORS;
		else
			len = 1 + rnd(&w->seed) % 40;
		if (len > w->sectors)
			len = w->sectors;
		sector = w->first + rnd(&w->seed) % (w->sectors - len + 1);
		fill_sectors(w->buf, sector, len, epoch, op);
		memcpy(w->img + sector * SECT, w->buf, len * SECT);
		if (r % 8 == 0) {
			w->fuas++;
			return pwrite_all(w->fua_fd, w->buf, len * SECT,
					  sector * SECT);
		}
		w->writes++;
		return pwrite_all(w->fd, w->buf, len * SECT, sector * SECT);
	}
	if (r < 90) {
		len = 1 + rnd(&w->seed) % 300;
		if (len > w->sectors)
			len = w->sectors;
		sector = w->first + rnd(&w->seed) % (w->sectors - len + 1);
		range[0] = sector * SECT;
		range[1] = len * SECT;
		if (r < 81 && w->no_discard)
			return 0;
		memset(w->img + sector * SECT, 0, len * SECT);
		if (r < 81) {
			w->discards++;
			return ioctl(w->fd, BLKDISCARD, range) ? -errno : 0;
		}
		w->zeroes++;
		return ioctl(w->fd, BLKZEROOUT, range) ? -errno : 0;
	}
	w->flushes++;
	return fdatasync(w->fd) ? -errno : 0;
}

static inline int wl_run(struct wl *w, uint64_t epoch, unsigned int ops)
{
	unsigned int i;
	int err;

	for (i = 0; i < ops; i++) {
		err = wl_op(w, epoch, ((uint64_t)w->first << 16) + i);
		if (err)
			return err;
	}
	return 0;
}

struct wl_thread {
	pthread_t tid;
	struct wl *w;
	uint64_t epoch;
	unsigned int ops;
};

static inline void *wl_thread_fn(void *arg)
{
	struct wl_thread *t = arg;

	t->w->err = wl_run(t->w, t->epoch, t->ops);
	return NULL;
}

/* n writers at once, each on its own part of the device. */
static inline int wl_run_concurrent(struct wl *ws, unsigned int n,
				    uint64_t epoch, unsigned int ops)
{
	struct wl_thread t[8];
	unsigned int i;
	int err = 0;

	for (i = 0; i < n && i < 8; i++) {
		t[i].w = &ws[i];
		t[i].epoch = epoch;
		t[i].ops = ops;
		if (pthread_create(&t[i].tid, NULL, wl_thread_fn, &t[i]))
			return -EAGAIN;
	}
	for (i = 0; i < n && i < 8; i++) {
		pthread_join(t[i].tid, NULL);
		if (ws[i].err && !err)
			err = ws[i].err;
	}
	return err;
}

/* Read the whole device through the target (direct, past any cache). */
static inline int dev_read_all(uint32_t devnum, unsigned char *buf,
			       uint64_t bytes)
{
	int fd = dm_open(devnum, O_RDONLY | O_DIRECT), err;

	if (fd < 0)
		return -errno;
	err = pread_all(fd, buf, bytes, 0);
	close(fd);
	return err;
}

#endif /* WORKLOAD_H */
