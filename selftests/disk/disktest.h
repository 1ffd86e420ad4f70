/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the disk suite's C tests: loop devices on tmpfs files,
 * device-mapper devices through the DM ioctls (no libdevmapper), direct
 * I/O on them, reference images in memory, and a seeded workload whose
 * every sector says which write put it there.
 */
#ifndef DISKTEST_H
#define DISKTEST_H

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <linux/dm-ioctl.h>
#include <linux/fs.h>
#include <linux/loop.h>

#include "disk.h"

/* kselftest_harness.h's FIXTURE_SETUP/TEARDOWN define global functions. */
#pragma GCC diagnostic ignored "-Wmissing-prototypes"

#define SECT 512ULL

/* --- loop devices ---------------------------------------------------- */

struct loopdev {
	char file[64];
	char dev[32];
	int fd;				/* held open: autoclear detaches it */
	uint64_t bytes;
};

static inline int loop_new(struct loopdev *l, const char *name, uint64_t bytes)
{
	struct loop_config cfg = { 0 };
	int ctl, n, bfd;

	snprintf(l->file, sizeof(l->file), "/tmp/disktest-%d-%s.img",
		 getpid(), name);
	bfd = open(l->file, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (bfd < 0 || ftruncate(bfd, bytes))
		return -errno;
	ctl = open("/dev/loop-control", O_RDWR);
	if (ctl < 0)
		return -errno;
	n = ioctl(ctl, LOOP_CTL_GET_FREE);
	close(ctl);
	if (n < 0)
		return -errno;
	snprintf(l->dev, sizeof(l->dev), "/dev/loop%d", n);
	l->fd = open(l->dev, O_RDWR);
	if (l->fd < 0)
		return -errno;
	cfg.fd = bfd;
	cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
	if (ioctl(l->fd, LOOP_CONFIGURE, &cfg))
		return -errno;
	close(bfd);
	l->bytes = bytes;
	return 0;
}

static inline void loop_del(struct loopdev *l)
{
	if (l->fd > 0)
		close(l->fd);
	l->fd = -1;
	unlink(l->file);
}

/* The backing file's bytes: what the loop device holds. */
static inline int loop_read_all(struct loopdev *l, unsigned char *buf)
{
	int fd = open(l->file, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = pread(fd, buf, l->bytes, 0);
	close(fd);
	return n == (ssize_t)l->bytes ? 0 : -EIO;
}

/* --- device mapper --------------------------------------------------- */

static inline struct dm_ioctl *dm_io(const char *name, size_t extra)
{
	size_t size = sizeof(struct dm_ioctl) + extra + 4096;
	struct dm_ioctl *io = calloc(1, size);

	if (!io)
		return NULL;
	io->version[0] = DM_VERSION_MAJOR;
	io->data_size = size;
	io->data_start = sizeof(*io);
	snprintf(io->name, sizeof(io->name), "%s", name);
	return io;
}

static inline int dm_run(unsigned long cmd, struct dm_ioctl *io)
{
	int fd = open("/dev/mapper/control", O_RDWR), err = 0;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, cmd, io))
		err = -errno;
	close(fd);
	return err;
}

static inline int dm_simple(unsigned long cmd, const char *name,
			    uint32_t flags)
{
	struct dm_ioctl *io = dm_io(name, 0);
	int err;

	if (!io)
		return -ENOMEM;
	io->flags = flags;
	err = dm_run(cmd, io);
	free(io);
	return err;
}

static inline int dm_load(const char *name, uint64_t sectors,
			  const char *target, const char *params)
{
	struct dm_ioctl *io = dm_io(name, strlen(params) + 64);
	struct dm_target_spec *t;
	int err;

	if (!io)
		return -ENOMEM;
	t = (struct dm_target_spec *)((char *)io + io->data_start);
	t->sector_start = 0;
	t->length = sectors;
	snprintf(t->target_type, sizeof(t->target_type), "%s", target);
	strcpy((char *)(t + 1), params);
	io->target_count = 1;
	err = dm_run(DM_TABLE_LOAD, io);
	free(io);
	return err;
}

static inline int dm_resume(const char *name)
{
	return dm_simple(DM_DEV_SUSPEND, name, 0);
}

static inline int dm_suspend(const char *name, bool noflush)
{
	return dm_simple(DM_DEV_SUSPEND, name,
			 DM_SUSPEND_FLAG | (noflush ? DM_NOFLUSH_FLAG : 0));
}

static inline int dm_remove(const char *name)
{
	return dm_simple(DM_DEV_REMOVE, name, 0);
}

/* Create NAME with one target; *devnum gets its device number. */
static inline int dm_create(const char *name, uint64_t sectors,
			    const char *target, const char *params,
			    uint32_t *devnum)
{
	struct dm_ioctl *io = dm_io(name, 0);
	int err;

	if (!io)
		return -ENOMEM;
	err = dm_run(DM_DEV_CREATE, io);
	if (!err && devnum)
		*devnum = (uint32_t)io->dev;
	free(io);
	if (err)
		return err;
	err = dm_load(name, sectors, target, params);
	if (!err)
		err = dm_resume(name);
	if (err)
		dm_remove(name);
	return err;
}

static inline int dm_message(const char *name, const char *msg)
{
	struct dm_ioctl *io = dm_io(name, strlen(msg) + 64);
	struct dm_target_msg *m;
	int err;

	if (!io)
		return -ENOMEM;
	m = (struct dm_target_msg *)((char *)io + io->data_start);
	m->sector = 0;
	strcpy(m->message, msg);
	err = dm_run(DM_TARGET_MSG, io);
	free(io);
	return err;
}

/* The target's status line (INFO, or TABLE), without the spec. */
static inline int dm_status(const char *name, bool table, char *out,
			    size_t len)
{
	struct dm_ioctl *io = dm_io(name, 0);
	struct dm_target_spec *t;
	int err;

	if (!io)
		return -ENOMEM;
	io->flags = table ? DM_STATUS_TABLE_FLAG : 0;
	err = dm_run(DM_TABLE_STATUS, io);
	if (!err && io->target_count == 1) {
		t = (struct dm_target_spec *)((char *)io + io->data_start);
		snprintf(out, len, "%s", (char *)(t + 1));
	} else if (!err) {
		err = -ENOENT;
	}
	free(io);
	return err;
}

static inline int dm_open(uint32_t devnum, int flags)
{
	char path[32];

	snprintf(path, sizeof(path), "/dev/dm-%u", minor(devnum));
	return open(path, flags);
}

/* --- I/O ----------------------------------------------------------------- */

static inline void *abuf(size_t len)
{
	void *p = NULL;

	if (posix_memalign(&p, 4096, len ? len : 4096))
		return NULL;
	memset(p, 0, len);
	return p;
}

static inline int pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, buf, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		buf = (const char *)buf + n;
		len -= n;
		off += n;
	}
	return 0;
}

static inline int pread_all(int fd, void *buf, size_t len, off_t off)
{
	while (len) {
		ssize_t n = pread(fd, buf, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		buf = (char *)buf + n;
		len -= n;
		off += n;
	}
	return 0;
}

/* --- workload ------------------------------------------------------------ */

static inline uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * Every sector written says who wrote it: a stamp (epoch, op, sector)
 * then bytes derived from it, so a mismatch names the write that is
 * missing or misplaced.
 */
struct stamp {
	uint64_t magic;
	uint64_t epoch;
	uint64_t op;
	uint64_t sector;
};

#define STAMP_MAGIC 0x5245535453544d50ULL

static inline void fill_sectors(unsigned char *buf, uint64_t sector,
				uint64_t n, uint64_t epoch, uint64_t op)
{
	uint64_t i, j;

	for (i = 0; i < n; i++) {
		unsigned char *p = buf + i * SECT;
		struct stamp st = { STAMP_MAGIC, epoch, op, sector + i };
		uint64_t s = (epoch << 40) ^ (op << 20) ^ (sector + i) ^ 0x9e37;

		memcpy(p, &st, sizeof(st));
		for (j = sizeof(st); j < SECT; j += 8) {
			uint64_t v = rnd(&s);

			memcpy(p + j, &v, 8);
		}
	}
}

/*
 * Compare two images; on a difference, describe the first sector that
 * differs (the stamps it holds and should hold) into why.
 */
static inline bool same_image(const unsigned char *got,
			      const unsigned char *want, uint64_t bytes,
			      char *why, size_t len)
{
	uint64_t s;

	if (!memcmp(got, want, bytes))
		return true;
	for (s = 0; s < bytes / SECT; s++) {
		struct stamp g, w;

		if (!memcmp(got + s * SECT, want + s * SECT, SECT))
			continue;
		memcpy(&g, got + s * SECT, sizeof(g));
		memcpy(&w, want + s * SECT, sizeof(w));
		snprintf(why, len,
			 "sector %" PRIu64 ": has epoch %" PRIu64 " op %" PRIu64
			 " (magic %s), wants epoch %" PRIu64 " op %" PRIu64
			 " (magic %s)", s, g.epoch, g.op,
			 g.magic == STAMP_MAGIC ? "ok" : "none", w.epoch, w.op,
			 w.magic == STAMP_MAGIC ? "ok" : "none");
		break;
	}
	return false;
}

#endif /* DISKTEST_H */
