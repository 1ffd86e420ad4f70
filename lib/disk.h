/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libremus: disk buffers (the `remus` device-mapper target).
 *
 * Control: the DISK commands of the `remus` generic netlink family, over a
 * struct remus_nl (nl.h). A disk is selected by its device-mapper name or
 * by its device number (new_encode_dev form), exactly one of them.
 *
 * Data: the write log (REMUS_LOG_DEVICE). A struct remus_log is a file
 * bound to one disk with a buffer for batch reads; remus_log_next() walks
 * the records of the last read, checking every length against the bytes
 * actually read and every checksum, so a record is only handed out whole
 * and intact. Writes of records (stage mode) go through remus_log_write().
 *
 * Every call returns 0 (or a count) or -errno; nothing prints or exits.
 */
#ifndef REMUS_DISK_H
#define REMUS_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "nl.h"

struct remus_disk_sel {
	const char *name;		/* device-mapper name, or NULL */
	uint32_t dev;			/* or its device number, non-zero */
};

/* A disk's GET reply: the common fields and the disk-only ones. */
struct remus_disk_info {
	struct remus_buf_info buf;
	uint64_t used_bytes;		/* counted against limit_bytes now */
	uint32_t waiting;		/* writes waiting for room */
	uint64_t errors;		/* failed backing-device I/O */
	uint64_t sectors;		/* size of the disk */
};

typedef int (*remus_disk_cb)(const struct remus_disk_info *info, void *data);

int remus_disk_get(struct remus_nl *nl, const struct remus_disk_sel *sel,
		   uint32_t flags, struct remus_disk_info *info);
int remus_disk_dump(struct remus_nl *nl, uint32_t flags, remus_disk_cb cb,
		    void *data);
int remus_disk_barrier(struct remus_nl *nl, const struct remus_disk_sel *sel,
		       uint64_t epoch);
int remus_disk_commit(struct remus_nl *nl, const struct remus_disk_sel *sel,
		      uint64_t epoch);
int remus_disk_discard(struct remus_nl *nl, const struct remus_disk_sel *sel);
/* Any of mode (enum remus_mode), limit, disk_mode; NULL: unchanged. */
int remus_disk_set(struct remus_nl *nl, const struct remus_disk_sel *sel,
		   const uint32_t *mode, const uint64_t *limit,
		   const uint32_t *disk_mode);
/* Parse a DISK_GET reply (or a disk event) into *info. */
int remus_disk_parse(const struct nlmsghdr *nlh, struct remus_disk_info *info);

const char *remus_disk_mode_name(uint32_t disk_mode);
int remus_disk_mode_parse(const char *s, uint32_t *disk_mode);
const char *remus_log_type_name(uint32_t type);

/* --- the write log -------------------------------------------------- */

struct remus_log {
	int fd;
	unsigned char *buf;		/* owned, size bytes */
	size_t size;
	size_t len;			/* bytes of the last read */
	size_t off;			/* next record in buf */
	/*
	 * Set by a forwarder that only ships records on: remus_log_next()
	 * still checks every field and length, not the checksum (the stage
	 * disk that takes them checks it).
	 */
	bool no_checksum;
};

/* A record handed out by remus_log_next(): points into the log's buffer. */
struct remus_log_rec {
	const struct remus_log_record *hdr;
	const void *data;		/* sectors * 512 bytes, WRITE only */
	size_t size;			/* header and data */
};

/*
 * Open REMUS_LOG_DEVICE (or path, if not NULL) with open(2) flags
 * (O_RDONLY for replicate, O_WRONLY for stage, O_NONBLOCK...) and bind it
 * to the disk. bufsize: read batch size, at least REMUS_LOG_READ_MIN (0:
 * 4 MiB).
 */
int remus_log_open(struct remus_log *log, const char *path,
		   const struct remus_disk_sel *sel, int flags, size_t bufsize);
void remus_log_close(struct remus_log *log);
/*
 * One read(2) into the buffer; returns the bytes read, 0 at the end of
 * the log (the disk is gone), -EAGAIN when non-blocking and empty.
 * Records not yet walked by remus_log_next() are dropped.
 */
ssize_t remus_log_read(struct remus_log *log);
/*
 * The next record of the last read: 1 and *rec, 0 when the batch is
 * done, -EBADMSG when the bytes are not a valid record (bad magic, type,
 * flags, length past what was read, or checksum).
 */
int remus_log_next(struct remus_log *log, struct remus_log_rec *rec);
/*
 * Check one record at buf (at most len bytes): its size in *size, or
 * -EBADMSG. Never reads past buf + len. remus_log_check_fields() skips the
 * checksum.
 */
int remus_log_check(const void *buf, size_t len, size_t *size);
int remus_log_check_fields(const void *buf, size_t len, size_t *size);
/* Write len bytes of whole records, retrying short writes. */
int remus_log_write(struct remus_log *log, const void *buf, size_t len);
/*
 * Fill in hdr->magic and hdr->checksum of a record built by the caller
 * (the other fields set, data sectors * 512 bytes for WRITE).
 */
void remus_log_seal(struct remus_log_record *hdr, const void *data);

/* XXH64 (seed 0 unless given), as the kernel's xxh64(). */
uint64_t remus_xxh64(const void *p, size_t len, uint64_t seed);
uint64_t remus_log_checksum(const struct remus_log_record *hdr,
			    const void *data);

#endif /* REMUS_DISK_H */
