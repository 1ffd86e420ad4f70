// SPDX-License-Identifier: GPL-2.0
/*
 * remusctl: control of remus output buffers over netlink, and status of a
 * running remusd. Usage and errors in the style of ip(8) and tc(8): exit 1
 * on error, 2 on usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remusctl.h"

static const struct subcommand {
	const char *name;
	int (*fn)(struct ctl *c, int argc, char **argv);
	const char *help;
} subcommands[] = {
	{ "net", ctl_net, "network output buffers (IFB + remus qdisc)" },
	{ "disk", ctl_disk, "disk output buffers (remus device-mapper target)" },
	{ "status", ctl_status, "status of a running remusd" },
};

static void usage(FILE *f, const char *prog)
{
	size_t i;

	fprintf(f, "Usage: %s [ -j ] OBJECT { COMMAND | help }\n", prog);
	fprintf(f, "where  OBJECT :=\n");
	for (i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(f, "  %-8s %s\n", subcommands[i].name,
			subcommands[i].help);
	fprintf(f, "  -j       JSON output\n");
}

int ctl_fail(struct ctl *c, const char *what, int err,
	     const struct remus_nl *nl)
{
	const char *ext = nl ? remus_nl_errmsg(nl) : "";

	if (ext && *ext)
		fprintf(stderr, "%s: %s: %s: %s\n", c->prog, what,
			strerror(-err), ext);
	else
		fprintf(stderr, "%s: %s: %s\n", c->prog, what, strerror(-err));
	return EXIT_FAILURE;
}

int ctl_usage_error(struct ctl *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", c->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry \"%s help\".\n", c->prog);
	return EXIT_USAGE;
}

/* Whole string, decimal, no sign, no overflow. */
int ctl_parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	return 0;
}

int ctl_open_nl(struct ctl *c, struct remus_nl *nl)
{
	int err = remus_nl_open(nl);

	if (err == -ENOENT)
		fprintf(stderr, "%s: the remus generic netlink family is not there: is remus.ko loaded?\n",
			c->prog);
	else if (err)
		ctl_fail(c, "netlink", err, NULL);
	return err;
}

static const struct {
	const char *name;
	size_t off;
} stat_fields[] = {
#define S(n, m) { n, offsetof(struct remus_buf_stats, m) }
	S("backlog_pkts", backlog_pkts), S("backlog_bytes", backlog_bytes),
	S("queued_pkts", queued_pkts), S("queued_bytes", queued_bytes),
	S("released_pkts", released_pkts), S("released_bytes", released_bytes),
	S("overlimit_pkts", overlimit_pkts),
	S("overlimit_bytes", overlimit_bytes),
	S("discarded_pkts", discarded_pkts),
	S("discarded_bytes", discarded_bytes),
	S("barriers", barriers), S("releases", releases),
	S("passed_pkts", passed_pkts), S("passed_bytes", passed_bytes),
	S("log_waits", log_waits),
#undef S
};

static uint64_t stat(const struct remus_buf_stats *s, size_t i)
{
	return *(const uint64_t *)((const char *)s + stat_fields[i].off);
}

void ctl_json_epochs(struct remus_json *j, const struct remus_buf_info *b,
		     const char *unit)
{
	unsigned int i;

	if (!b->nr_epochs)
		return;
	remus_json_arr_start(j, "epochs");
	for (i = 0; i < b->nr_epochs; i++) {
		remus_json_obj_start(j, NULL);
		remus_json_u64(j, "epoch", b->epochs[i].epoch);
		remus_json_u64(j, unit, b->epochs[i].pkts);
		remus_json_u64(j, "bytes", b->epochs[i].bytes);
		remus_json_obj_end(j);
	}
	remus_json_arr_end(j);
}

static void print_buf_json(struct ctl *c, const struct remus_buf_info *b,
			   const char *label)
{
	struct remus_json *j = &c->j;
	size_t i;

	remus_json_obj_start(j, NULL);
	if (b->cmd == REMUS_CMD_EVENT)
		remus_json_str(j, "event", remus_event_name(b->event));
	if (b->has_disk) {
		remus_json_str(j, "disk", b->disk_name);
		remus_json_u64(j, "dev", b->disk_dev);
	} else {
		remus_json_str(j, "ifname", b->ifname);
		remus_json_u64(j, "ifindex", b->ifindex);
		if (label)
			remus_json_str(j, "for", label);
	}
	if (b->cmd == REMUS_CMD_EVENT) {
		if (b->has_epoch)
			remus_json_u64(j, "epoch", b->epoch);
	} else {
		remus_json_str(j, "mode", remus_mode_name(b->mode));
		remus_json_u64(j, "barrier", b->barrier);
		remus_json_u64(j, "released", b->released);
		if (!b->has_disk)
			remus_json_u64(j, "limit_pkts", b->limit_pkts);
		remus_json_u64(j, "limit_bytes", b->limit_bytes);
	}
	if (b->has_stats) {
		remus_json_obj_start(j, "stats");
		for (i = 0; i < sizeof(stat_fields) / sizeof(stat_fields[0]); i++)
			remus_json_u64(j, stat_fields[i].name, stat(&b->stats, i));
		remus_json_obj_end(j);
	}
	ctl_json_epochs(j, b, "pkts");
	remus_json_obj_end(j);
}

void ctl_print_buf(struct ctl *c, const struct remus_buf_info *b,
		   const char *label)
{
	const struct remus_buf_stats *s = &b->stats;
	const char *unit = b->has_disk ? "w" : "p";
	unsigned int i;

	if (c->json) {
		print_buf_json(c, b, label);
		return;
	}
	if (b->has_disk)
		printf("disk %s (%u:%u)", b->disk_name, b->disk_dev >> 20,
		       b->disk_dev & 0xfffff);
	else
		printf("net %s", b->ifname);
	if (label && !b->has_disk)
		printf(" for %s", label);
	printf(": mode %s barrier %" PRIu64 " released %" PRIu64,
	       remus_mode_name(b->mode), b->barrier, b->released);
	if (!b->has_disk)
		printf(" limit %u%s", b->limit_pkts, unit);
	printf(" %" PRIu64 "b\n", b->limit_bytes);
	printf("  backlog %" PRIu64 "%s %" PRIu64 "b queued %" PRIu64 "%s %"
	       PRIu64 "b released %" PRIu64 "%s %" PRIu64 "b\n",
	       s->backlog_pkts, unit, s->backlog_bytes, s->queued_pkts, unit,
	       s->queued_bytes, s->released_pkts, unit, s->released_bytes);
	printf("  overlimit %" PRIu64 "%s %" PRIu64 "b discarded %" PRIu64
	       "%s %" PRIu64 "b passed %" PRIu64 "%s %" PRIu64 "b\n",
	       s->overlimit_pkts, unit, s->overlimit_bytes, s->discarded_pkts,
	       unit, s->discarded_bytes, s->passed_pkts, unit, s->passed_bytes);
	printf("  barriers %" PRIu64 " releases %" PRIu64, s->barriers,
	       s->releases);
	if (b->has_disk)
		printf(" log_waits %" PRIu64, s->log_waits);
	printf("\n");
	for (i = 0; i < b->nr_epochs; i++)
		printf("  epoch %" PRIu64 ": %u%s %" PRIu64 "b\n",
		       b->epochs[i].epoch, b->epochs[i].pkts, unit,
		       b->epochs[i].bytes);
}

struct monitor {
	struct ctl *c;
	bool net, disk;
};

static int monitor_cb(const struct remus_buf_info *b, void *data)
{
	struct monitor *m = data;

	if (b->has_disk ? !m->disk : !m->net)
		return 0;
	if (m->c->json) {
		print_buf_json(m->c, b, NULL);
	} else {
		printf("%s %s", remus_event_name(b->event),
		       b->has_disk ? b->disk_name : b->ifname);
		if (b->has_epoch)
			printf(" epoch %" PRIu64, b->epoch);
		if (b->has_stats)
			printf(" backlog %" PRIu64 " overlimit %" PRIu64
			       " discarded %" PRIu64,
			       b->stats.backlog_pkts, b->stats.overlimit_pkts,
			       b->stats.discarded_pkts);
		printf("\n");
	}
	fflush(stdout);
	return 0;
}

int ctl_monitor(struct ctl *c, bool net, bool disk)
{
	struct monitor m = { .c = c, .net = net, .disk = disk };
	struct remus_nl nl;
	int err;

	err = ctl_open_nl(c, &nl);
	if (err)
		return EXIT_FAILURE;
	err = remus_nl_subscribe(&nl);
	if (err) {
		remus_nl_close(&nl);
		return ctl_fail(c, "subscribe", err, NULL);
	}
	for (;;) {
		err = remus_nl_events(&nl, monitor_cb, &m);
		if (err == -ENOBUFS) {
			fprintf(stderr, "%s: events lost: the socket overran\n",
				c->prog);
			continue;
		}
		if (err && err != -EINTR)
			break;
	}
	remus_nl_close(&nl);
	return ctl_fail(c, "events", err, NULL);
}

int main(int argc, char **argv)
{
	struct ctl c = { .prog = "remusctl" };
	size_t i;

	argc--, argv++;
	while (argc > 0 && argv[0][0] == '-') {
		if (!strcmp(argv[0], "-j") || !strcmp(argv[0], "-json")) {
			c.json = true;
		} else if (!strcmp(argv[0], "-h") || !strcmp(argv[0], "--help")) {
			usage(stdout, c.prog);
			return EXIT_SUCCESS;
		} else {
			return ctl_usage_error(&c, "option \"%s\" is unknown",
					       argv[0]);
		}
		argc--, argv++;
	}
	remus_json_init(&c.j, stdout);
	if (argc < 1) {
		usage(stderr, c.prog);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[0], "help")) {
		usage(stdout, c.prog);
		return EXIT_SUCCESS;
	}
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (!strcmp(argv[0], subcommands[i].name))
			return subcommands[i].fn(&c, argc - 1, argv + 1);
	return ctl_usage_error(&c, "object \"%s\" is unknown", argv[0]);
}
