// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libremus: disk buffers: the DISK netlink commands and the write log.
 * See disk.h; the kernel side is kmod/dm-remus*.c, the rules are in
 * include/uapi/linux/remus.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/genetlink.h>

#include "disk.h"

/* --- netlink ------------------------------------------------------------ */

static int put_sel(struct nlmsghdr *nlh, const struct remus_disk_sel *sel)
{
	if (!sel || !sel->name == !sel->dev)
		return -EINVAL;
	if (sel->name) {
		if (strlen(sel->name) >= REMUS_DISK_NAME_MAX)
			return -ENAMETOOLONG;
		mnl_attr_put_strz(nlh, REMUS_A_DISK_NAME, sel->name);
	} else {
		mnl_attr_put_u32(nlh, REMUS_A_DISK_DEV, sel->dev);
	}
	return 0;
}

int remus_disk_parse(const struct nlmsghdr *nlh, struct remus_disk_info *info)
{
	const struct nlattr *a;
	int err;

	memset(info, 0, sizeof(*info));
	err = remus_nl_parse(nlh, &info->buf);
	if (err)
		return err;
	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		switch (mnl_attr_get_type(a)) {
		case REMUS_A_DISK_USED_BYTES:
			if (mnl_attr_validate(a, MNL_TYPE_U64) < 0)
				return -EBADMSG;
			info->used_bytes = mnl_attr_get_u64(a);
			break;
		case REMUS_A_DISK_WAITING:
			if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
				return -EBADMSG;
			info->waiting = mnl_attr_get_u32(a);
			break;
		case REMUS_A_DISK_ERRORS:
			if (mnl_attr_validate(a, MNL_TYPE_U64) < 0)
				return -EBADMSG;
			info->errors = mnl_attr_get_u64(a);
			break;
		case REMUS_A_DISK_SECTORS:
			if (mnl_attr_validate(a, MNL_TYPE_U64) < 0)
				return -EBADMSG;
			info->sectors = mnl_attr_get_u64(a);
			break;
		}
	}
	return 0;
}

static int get_cb(const struct nlmsghdr *nlh, void *data)
{
	return remus_disk_parse(nlh, data) ? MNL_CB_ERROR : MNL_CB_OK;
}

int remus_disk_get(struct remus_nl *nl, const struct remus_disk_sel *sel,
		   uint32_t flags, struct remus_disk_info *info)
{
	struct nlmsghdr *nlh = remus_nl_request(nl, REMUS_CMD_DISK_GET, 0);
	int err = put_sel(nlh, sel);

	if (err)
		return err;
	if (flags)
		mnl_attr_put_u32(nlh, REMUS_A_FLAGS, flags);
	return remus_nl_exec(nl, nlh, get_cb, info);
}

struct disk_dump {
	remus_disk_cb cb;
	void *data;
	struct remus_disk_info info;
};

static int disk_each(const struct nlmsghdr *nlh, void *data)
{
	struct disk_dump *d = data;
	int err = remus_disk_parse(nlh, &d->info);

	return err ? err : d->cb(&d->info, d->data);
}

int remus_disk_dump(struct remus_nl *nl, uint32_t flags, remus_disk_cb cb,
		    void *data)
{
	struct disk_dump *d = calloc(1, sizeof(*d));
	int err;

	if (!d)
		return -ENOMEM;
	d->cb = cb;
	d->data = data;
	err = remus_nl_dump(nl, REMUS_CMD_DISK_GET, flags, disk_each, d);
	free(d);
	return err;
}

static int epoch_cmd(struct remus_nl *nl, uint8_t cmd,
		     const struct remus_disk_sel *sel, uint64_t epoch)
{
	struct nlmsghdr *nlh = remus_nl_request(nl, cmd, 0);
	int err = put_sel(nlh, sel);

	if (err)
		return err;
	mnl_attr_put_u64(nlh, REMUS_A_EPOCH, epoch);
	return remus_nl_exec(nl, nlh, NULL, NULL);
}

int remus_disk_barrier(struct remus_nl *nl, const struct remus_disk_sel *sel,
		       uint64_t epoch)
{
	return epoch_cmd(nl, REMUS_CMD_DISK_BARRIER, sel, epoch);
}

int remus_disk_commit(struct remus_nl *nl, const struct remus_disk_sel *sel,
		      uint64_t epoch)
{
	return epoch_cmd(nl, REMUS_CMD_DISK_COMMIT, sel, epoch);
}

int remus_disk_discard(struct remus_nl *nl, const struct remus_disk_sel *sel)
{
	struct nlmsghdr *nlh = remus_nl_request(nl, REMUS_CMD_DISK_DISCARD, 0);
	int err = put_sel(nlh, sel);

	if (err)
		return err;
	return remus_nl_exec(nl, nlh, NULL, NULL);
}

int remus_disk_set(struct remus_nl *nl, const struct remus_disk_sel *sel,
		   const uint32_t *mode, const uint64_t *limit,
		   const uint32_t *disk_mode)
{
	struct nlmsghdr *nlh = remus_nl_request(nl, REMUS_CMD_DISK_SET, 0);
	int err = put_sel(nlh, sel);

	if (err)
		return err;
	if (mode)
		mnl_attr_put_u32(nlh, REMUS_A_MODE, *mode);
	if (limit)
		mnl_attr_put_u64(nlh, REMUS_A_LIMIT_BYTES, *limit);
	if (disk_mode)
		mnl_attr_put_u32(nlh, REMUS_A_DISK_MODE, *disk_mode);
	return remus_nl_exec(nl, nlh, NULL, NULL);
}

static const char *const disk_modes[] = {
	[REMUS_DISK_REPLICATE]	= "replicate",
	[REMUS_DISK_STAGE]	= "stage",
	[REMUS_DISK_BUFFER]	= "buffer",
};

const char *remus_disk_mode_name(uint32_t disk_mode)
{
	return disk_mode <= REMUS_DISK_MAX ? disk_modes[disk_mode] : "unknown";
}

int remus_disk_mode_parse(const char *s, uint32_t *disk_mode)
{
	uint32_t i;

	for (i = 0; i <= REMUS_DISK_MAX; i++)
		if (!strcmp(s, disk_modes[i])) {
			*disk_mode = i;
			return 0;
		}
	return -EINVAL;
}

const char *remus_log_type_name(uint32_t type)
{
	static const char *const names[] = {
		[REMUS_LOG_WRITE]		= "write",
		[REMUS_LOG_DISCARD]		= "discard",
		[REMUS_LOG_WRITE_ZEROES]	= "write-zeroes",
		[REMUS_LOG_FLUSH]		= "flush",
		[REMUS_LOG_BARRIER]		= "barrier",
		[REMUS_LOG_GAP]			= "gap",
	};

	if (type < sizeof(names) / sizeof(names[0]) && names[type])
		return names[type];
	return "unknown";
}

/* --- XXH64 -------------------------------------------------------------- */

#define P1 11400714785074694791ULL
#define P2 14029467366897019727ULL
#define P3 1609587929392839161ULL
#define P4 9650029242287828579ULL
#define P5 2870177450012600261ULL

struct xxh64 {
	uint64_t v[4];
	uint64_t total;
	unsigned char mem[32];
	size_t memsize;
	uint64_t seed;
};

static uint64_t rotl64(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static uint64_t rd64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;	/* little-endian hosts, as the kernel's on x86 */
}

static uint32_t rd32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t xround(uint64_t acc, uint64_t in)
{
	acc += in * P2;
	acc = rotl64(acc, 31);
	return acc * P1;
}

static uint64_t xmerge(uint64_t acc, uint64_t v)
{
	acc ^= xround(0, v);
	return acc * P1 + P4;
}

static void xxh_reset(struct xxh64 *s, uint64_t seed)
{
	memset(s, 0, sizeof(*s));
	s->seed = seed;
	s->v[0] = seed + P1 + P2;
	s->v[1] = seed + P2;
	s->v[2] = seed;
	s->v[3] = seed - P1;
}

static void xxh_stripe(struct xxh64 *s, const unsigned char *p)
{
	s->v[0] = xround(s->v[0], rd64(p));
	s->v[1] = xround(s->v[1], rd64(p + 8));
	s->v[2] = xround(s->v[2], rd64(p + 16));
	s->v[3] = xround(s->v[3], rd64(p + 24));
}

static void xxh_update(struct xxh64 *s, const void *in, size_t len)
{
	const unsigned char *p = in, *end = p + len;

	s->total += len;
	if (s->memsize + len < 32) {
		memcpy(s->mem + s->memsize, p, len);
		s->memsize += len;
		return;
	}
	if (s->memsize) {
		size_t n = 32 - s->memsize;

		memcpy(s->mem + s->memsize, p, n);
		xxh_stripe(s, s->mem);
		p += n;
		s->memsize = 0;
	}
	while (end - p >= 32) {
		xxh_stripe(s, p);
		p += 32;
	}
	memcpy(s->mem, p, end - p);
	s->memsize = end - p;
}

static uint64_t xxh_digest(const struct xxh64 *s)
{
	const unsigned char *p = s->mem, *end = p + s->memsize;
	uint64_t h;

	if (s->total >= 32) {
		h = rotl64(s->v[0], 1) + rotl64(s->v[1], 7) +
		    rotl64(s->v[2], 12) + rotl64(s->v[3], 18);
		h = xmerge(h, s->v[0]);
		h = xmerge(h, s->v[1]);
		h = xmerge(h, s->v[2]);
		h = xmerge(h, s->v[3]);
	} else {
		h = s->seed + P5;
	}
	h += s->total;
	while (end - p >= 8) {
		h ^= xround(0, rd64(p));
		h = rotl64(h, 27) * P1 + P4;
		p += 8;
	}
	if (end - p >= 4) {
		h ^= (uint64_t)rd32(p) * P1;
		h = rotl64(h, 23) * P2 + P3;
		p += 4;
	}
	while (p < end) {
		h ^= *p * P5;
		h = rotl64(h, 11) * P1;
		p++;
	}
	h ^= h >> 33;
	h *= P2;
	h ^= h >> 29;
	h *= P3;
	h ^= h >> 32;
	return h;
}

uint64_t remus_xxh64(const void *p, size_t len, uint64_t seed)
{
	struct xxh64 s;

	xxh_reset(&s, seed);
	xxh_update(&s, p, len);
	return xxh_digest(&s);
}

static size_t rec_data_len(const struct remus_log_record *h)
{
	return h->type == REMUS_LOG_WRITE ? (size_t)h->sectors << 9 : 0;
}

uint64_t remus_log_checksum(const struct remus_log_record *hdr,
			    const void *data)
{
	struct remus_log_record h = *hdr;
	struct xxh64 s;

	h.checksum = 0;
	xxh_reset(&s, 0);
	xxh_update(&s, &h, sizeof(h));
	xxh_update(&s, data, rec_data_len(hdr));
	return xxh_digest(&s);
}

void remus_log_seal(struct remus_log_record *hdr, const void *data)
{
	hdr->magic = REMUS_LOG_MAGIC;
	hdr->checksum = remus_log_checksum(hdr, data);
}

/* --- the write log ------------------------------------------------------ */

static int log_check(const void *buf, size_t len, size_t *size, bool sum)
{
	struct remus_log_record h;
	size_t n;

	if (len < sizeof(h))
		return -EBADMSG;
	memcpy(&h, buf, sizeof(h));
	if (h.magic != REMUS_LOG_MAGIC || h.reserved ||
	    (h.flags & ~REMUS_LOG_F_MASK) || !h.type ||
	    h.type > REMUS_LOG_TYPE_MAX)
		return -EBADMSG;
	if (h.type == REMUS_LOG_WRITE &&
	    (!h.sectors || h.sectors > REMUS_LOG_MAX_SECTORS))
		return -EBADMSG;
	n = rec_data_len(&h);
	if (n > len - sizeof(h))
		return -EBADMSG;
	if (sum && remus_log_checksum(&h, (const unsigned char *)buf +
				      sizeof(h)) != h.checksum)
		return -EBADMSG;
	*size = sizeof(h) + n;
	return 0;
}

int remus_log_check(const void *buf, size_t len, size_t *size)
{
	return log_check(buf, len, size, true);
}

int remus_log_check_fields(const void *buf, size_t len, size_t *size)
{
	return log_check(buf, len, size, false);
}

int remus_log_open(struct remus_log *log, const char *path,
		   const struct remus_disk_sel *sel, int flags, size_t bufsize)
{
	struct remus_log_bind b = { 0 };
	int err;

	memset(log, 0, sizeof(*log));
	log->fd = -1;
	if (!sel || !sel->name == !sel->dev)
		return -EINVAL;
	if (!bufsize)
		bufsize = 4 << 20;
	if (bufsize < REMUS_LOG_READ_MIN)
		return -EINVAL;
	if (sel->name) {
		if (strlen(sel->name) >= sizeof(b.name))
			return -ENAMETOOLONG;
		strcpy(b.name, sel->name);
	}
	b.dev = sel->dev;
	log->buf = malloc(bufsize);
	if (!log->buf)
		return -ENOMEM;
	log->size = bufsize;
	log->fd = open(path ? path : REMUS_LOG_DEVICE, flags | O_CLOEXEC);
	if (log->fd < 0)
		goto err;
	if (ioctl(log->fd, REMUS_LOG_IOC_BIND, &b))
		goto err;
	return 0;

err:
	err = -errno;
	remus_log_close(log);
	return err;
}

void remus_log_close(struct remus_log *log)
{
	if (log->fd >= 0)
		close(log->fd);
	free(log->buf);
	memset(log, 0, sizeof(*log));
	log->fd = -1;
}

ssize_t remus_log_read(struct remus_log *log)
{
	ssize_t n;

	log->len = 0;
	log->off = 0;
	do {
		n = read(log->fd, log->buf, log->size);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	log->len = n;
	return n;
}

int remus_log_next(struct remus_log *log, struct remus_log_rec *rec)
{
	size_t size;
	int err;

	if (log->off >= log->len)
		return 0;
	err = log_check(log->buf + log->off, log->len - log->off, &size,
			!log->no_checksum);
	if (err) {
		log->off = log->len;
		return err;
	}
	rec->hdr = (const struct remus_log_record *)(log->buf + log->off);
	rec->data = rec->hdr + 1;
	rec->size = size;
	log->off += size;
	return 1;
}

int remus_log_write(struct remus_log *log, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len) {
		ssize_t n = write(log->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= n;
	}
	return 0;
}
