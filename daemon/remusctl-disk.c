// SPDX-License-Identifier: GPL-2.0
/*
 * remusctl disk: a guest disk's `remus` device-mapper target.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk.h"
#include "remusctl.h"

static void disk_usage(FILE *f)
{
	fprintf(f,
		"Usage: remusctl disk show [ DISK ] [ epochs ]\n"
		"       remusctl disk barrier DISK EPOCH\n"
		"       remusctl disk commit DISK EPOCH\n"
		"       remusctl disk discard DISK\n"
		"       remusctl disk mode DISK { buffer | passthrough }\n"
		"       remusctl disk role DISK { replicate | stage | buffer }\n"
		"       remusctl disk limit DISK BYTES\n"
		"       remusctl disk log DISK [ count N ]\n"
		"       remusctl disk monitor\n"
		"DISK is a device-mapper name or MAJOR:MINOR of a remus target.\n"
		"mode buffer holds output by epoch, passthrough lets it all out;\n"
		"role is what the target does with writes (see docs/disk.md).\n"
		"log reads (and so consumes) records of a replicate disk's log.\n");
}

/* DISK: MAJOR:MINOR or a name. */
static int disk_sel(struct ctl *c, const char *s, struct remus_disk_sel *sel)
{
	unsigned int maj, min;
	char tail;

	memset(sel, 0, sizeof(*sel));
	if (sscanf(s, "%u:%u%c", &maj, &min, &tail) == 2) {
		if (maj > 0xfff || min > 0xfffff || (!maj && !min))
			return ctl_usage_error(c, "bad device number \"%s\"", s);
		sel->dev = (min & 0xff) | (maj << 8) | ((min & ~0xffU) << 12);
		return 0;
	}
	if (!*s || strlen(s) >= REMUS_DISK_NAME_MAX)
		return ctl_usage_error(c, "bad disk name \"%s\"", s);
	sel->name = s;
	return 0;
}

static void print_disk(struct ctl *c, const struct remus_disk_info *d)
{
	const struct remus_buf_info *b = &d->buf;
	const struct remus_buf_stats *s = &b->stats;
	unsigned int maj = (b->disk_dev >> 8) & 0xfff;
	unsigned int min = (b->disk_dev & 0xff) | ((b->disk_dev >> 12) & ~0xffU);
	struct remus_json *j = &c->j;
	unsigned int i;

	if (c->json) {
		remus_json_obj_start(j, NULL);
		remus_json_str(j, "disk", b->disk_name);
		remus_json_u64(j, "dev", b->disk_dev);
		remus_json_u64(j, "major", maj);
		remus_json_u64(j, "minor", min);
		remus_json_str(j, "role", remus_disk_mode_name(b->disk_mode));
		remus_json_str(j, "mode", remus_mode_name(b->mode));
		remus_json_u64(j, "sectors", d->sectors);
		remus_json_u64(j, "barrier", b->barrier);
		remus_json_u64(j, "committed", b->released);
		remus_json_u64(j, "limit_bytes", b->limit_bytes);
		remus_json_u64(j, "used_bytes", d->used_bytes);
		remus_json_u64(j, "waiting", d->waiting);
		remus_json_u64(j, "errors", d->errors);
		remus_json_obj_start(j, "stats");
		remus_json_u64(j, "held_writes", s->backlog_pkts);
		remus_json_u64(j, "held_bytes", s->backlog_bytes);
		remus_json_u64(j, "queued_writes", s->queued_pkts);
		remus_json_u64(j, "queued_bytes", s->queued_bytes);
		remus_json_u64(j, "committed_writes", s->released_pkts);
		remus_json_u64(j, "committed_bytes", s->released_bytes);
		remus_json_u64(j, "discarded_writes", s->discarded_pkts);
		remus_json_u64(j, "discarded_bytes", s->discarded_bytes);
		remus_json_u64(j, "passed_writes", s->passed_pkts);
		remus_json_u64(j, "passed_bytes", s->passed_bytes);
		remus_json_u64(j, "barriers", s->barriers);
		remus_json_u64(j, "commits", s->releases);
		remus_json_u64(j, "log_waits", s->log_waits);
		remus_json_obj_end(j);
		ctl_json_epochs(j, b, "writes");
		remus_json_obj_end(j);
		return;
	}
	printf("disk %s (%u:%u): %s, mode %s, %" PRIu64 " sectors\n",
	       b->disk_name, maj, min, remus_disk_mode_name(b->disk_mode),
	       remus_mode_name(b->mode), d->sectors);
	printf("  barrier %" PRIu64 " committed %" PRIu64 " used %" PRIu64
	       "/%" PRIu64 "b waiting %u errors %" PRIu64 "\n", b->barrier,
	       b->released, d->used_bytes, b->limit_bytes, d->waiting,
	       d->errors);
	printf("  held %" PRIu64 "w %" PRIu64 "b queued %" PRIu64 "w %" PRIu64
	       "b committed %" PRIu64 "w %" PRIu64 "b\n", s->backlog_pkts,
	       s->backlog_bytes, s->queued_pkts, s->queued_bytes,
	       s->released_pkts, s->released_bytes);
	printf("  discarded %" PRIu64 "w %" PRIu64 "b passed %" PRIu64 "w %"
	       PRIu64 "b barriers %" PRIu64 " commits %" PRIu64
	       " log_waits %" PRIu64 "\n", s->discarded_pkts,
	       s->discarded_bytes, s->passed_pkts, s->passed_bytes,
	       s->barriers, s->releases, s->log_waits);
	for (i = 0; i < b->nr_epochs; i++)
		printf("  epoch %" PRIu64 ": %uw %" PRIu64 "b\n",
		       b->epochs[i].epoch, b->epochs[i].pkts,
		       b->epochs[i].bytes);
}

static int show_cb(const struct remus_disk_info *info, void *data)
{
	print_disk(data, info);
	return 0;
}

static int disk_show(struct ctl *c, int argc, char **argv)
{
	struct remus_disk_info *info = NULL;
	struct remus_disk_sel sel;
	const char *disk = NULL;
	uint32_t flags = 0;
	struct remus_nl nl;
	int i, err;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "epochs"))
			flags |= REMUS_F_EPOCHS;
		else if (!disk)
			disk = argv[i];
		else
			return ctl_usage_error(c, "show: unexpected \"%s\"",
					       argv[i]);
	}
	if (disk && disk_sel(c, disk, &sel))
		return EXIT_USAGE;
	if (ctl_open_nl(c, &nl))
		return EXIT_FAILURE;
	if (c->json)
		remus_json_arr_start(&c->j, NULL);
	if (!disk) {
		err = remus_disk_dump(&nl, flags, show_cb, c);
	} else {
		info = malloc(sizeof(*info));
		err = info ? remus_disk_get(&nl, &sel, flags, info) : -ENOMEM;
		if (!err)
			print_disk(c, info);
		free(info);
	}
	if (c->json)
		remus_json_arr_end(&c->j);
	if (err)
		ctl_fail(c, "show", err, &nl);
	remus_nl_close(&nl);
	return err ? EXIT_FAILURE : EXIT_SUCCESS;
}

enum disk_op { OP_BARRIER, OP_COMMIT, OP_DISCARD, OP_MODE, OP_ROLE,
	       OP_LIMIT };

static int disk_op(struct ctl *c, enum disk_op op, int argc, char **argv)
{
	static const char *const names[] = { "barrier", "commit", "discard",
					     "mode", "role", "limit" };
	const char *name = names[op];
	struct remus_disk_sel sel;
	uint32_t mode = 0;
	uint64_t v = 0;
	struct remus_nl nl;
	int err = 0;

	if (argc < 1)
		return ctl_usage_error(c, "%s: missing DISK", name);
	if (disk_sel(c, argv[0], &sel))
		return EXIT_USAGE;
	switch (op) {
	case OP_BARRIER:
	case OP_COMMIT:
		if (argc != 2 || ctl_parse_u64(argv[1], &v))
			return ctl_usage_error(c, "%s: want DISK EPOCH (a decimal number)",
					       name);
		break;
	case OP_DISCARD:
		if (argc != 1)
			return ctl_usage_error(c, "discard: want DISK");
		break;
	case OP_MODE:
		if (argc != 2 || remus_mode_parse(argv[1], &mode))
			return ctl_usage_error(c, "mode: want DISK { buffer | passthrough }");
		break;
	case OP_ROLE:
		if (argc != 2 || remus_disk_mode_parse(argv[1], &mode))
			return ctl_usage_error(c, "role: want DISK { replicate | stage | buffer }");
		break;
	case OP_LIMIT:
		if (argc != 2 || ctl_parse_u64(argv[1], &v) || !v)
			return ctl_usage_error(c, "limit: want DISK BYTES (>= 1)");
		break;
	}
	if (ctl_open_nl(c, &nl))
		return EXIT_FAILURE;
	switch (op) {
	case OP_BARRIER:
		err = remus_disk_barrier(&nl, &sel, v);
		break;
	case OP_COMMIT:
		err = remus_disk_commit(&nl, &sel, v);
		break;
	case OP_DISCARD:
		err = remus_disk_discard(&nl, &sel);
		break;
	case OP_MODE:
		err = remus_disk_set(&nl, &sel, &mode, NULL, NULL);
		break;
	case OP_ROLE:
		err = remus_disk_set(&nl, &sel, NULL, NULL, &mode);
		break;
	case OP_LIMIT:
		err = remus_disk_set(&nl, &sel, NULL, &v, NULL);
		break;
	}
	if (err)
		ctl_fail(c, name, err, &nl);
	remus_nl_close(&nl);
	return err ? EXIT_FAILURE : EXIT_SUCCESS;
}

static void print_rec(struct ctl *c, const struct remus_log_record *h)
{
	if (c->json) {
		remus_json_obj_start(&c->j, NULL);
		remus_json_str(&c->j, "type", remus_log_type_name(h->type));
		remus_json_u64(&c->j, "seq", h->seq);
		remus_json_u64(&c->j, "epoch", h->epoch);
		remus_json_u64(&c->j, "sector", h->sector);
		remus_json_u64(&c->j, "sectors", h->sectors);
		remus_json_bool(&c->j, "fua", h->flags & REMUS_LOG_F_FUA);
		remus_json_obj_end(&c->j);
		return;
	}
	printf("%" PRIu64 " epoch %" PRIu64 " %s", (uint64_t)h->seq,
	       (uint64_t)h->epoch,
	       remus_log_type_name(h->type));
	if (h->sectors)
		printf(" %" PRIu64 "+%u", (uint64_t)h->sector, h->sectors);
	if (h->flags & REMUS_LOG_F_FUA)
		printf(" fua");
	printf("\n");
}

/* Read records of a replicate disk's log: a debugging aid, it consumes. */
static int disk_log(struct ctl *c, int argc, char **argv)
{
	struct remus_disk_sel sel;
	uint64_t count = UINT64_MAX;
	struct remus_log log;
	struct remus_log_rec r;
	int err = 0, ret;

	if (argc < 1)
		return ctl_usage_error(c, "log: missing DISK");
	if (disk_sel(c, argv[0], &sel))
		return EXIT_USAGE;
	if (argc == 3 && !strcmp(argv[1], "count")) {
		if (ctl_parse_u64(argv[2], &count) || !count)
			return ctl_usage_error(c, "log: bad count \"%s\"",
					       argv[2]);
	} else if (argc != 1) {
		return ctl_usage_error(c, "log: want DISK [ count N ]");
	}
	err = remus_log_open(&log, NULL, &sel, O_RDONLY, 0);
	if (err)
		return ctl_fail(c, "log", err, NULL);
	if (c->json)
		remus_json_arr_start(&c->j, NULL);
	while (count) {
		ssize_t n = remus_log_read(&log);

		if (n <= 0) {
			err = n;
			break;
		}
		while (count && (ret = remus_log_next(&log, &r)) == 1) {
			print_rec(c, r.hdr);
			count--;
		}
		if (ret < 0) {
			err = ret;
			break;
		}
		fflush(stdout);
	}
	if (c->json)
		remus_json_arr_end(&c->j);
	remus_log_close(&log);
	return err ? ctl_fail(c, "log", err, NULL) : EXIT_SUCCESS;
}

int ctl_disk(struct ctl *c, int argc, char **argv)
{
	static const struct {
		const char *name;
		enum disk_op op;
	} ops[] = {
		{ "barrier", OP_BARRIER }, { "commit", OP_COMMIT },
		{ "discard", OP_DISCARD }, { "mode", OP_MODE },
		{ "role", OP_ROLE }, { "limit", OP_LIMIT },
	};
	size_t i;

	if (argc < 1 || !strcmp(argv[0], "help")) {
		disk_usage(argc < 1 ? stderr : stdout);
		return argc < 1 ? EXIT_USAGE : EXIT_SUCCESS;
	}
	if (!strcmp(argv[0], "show") || !strcmp(argv[0], "list"))
		return disk_show(c, argc - 1, argv + 1);
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strcmp(argv[0], ops[i].name))
			return disk_op(c, ops[i].op, argc - 1, argv + 1);
	if (!strcmp(argv[0], "log"))
		return disk_log(c, argc - 1, argv + 1);
	if (!strcmp(argv[0], "monitor")) {
		if (argc != 1)
			return ctl_usage_error(c, "monitor: unexpected \"%s\"",
					       argv[1]);
		return ctl_monitor(c, false, true);
	}
	return ctl_usage_error(c, "disk: command \"%s\" is unknown", argv[0]);
}
