// SPDX-License-Identifier: GPL-2.0
/*
 * remusctl net: a guest interface's network output buffer.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netbuf.h"
#include "remusctl.h"

static void net_usage(FILE *f)
{
	fprintf(f,
		"Usage: remusctl net attach IFACE [ plug ]\n"
		"       remusctl net detach IFACE\n"
		"       remusctl net show [ IFACE ] [ epochs ]\n"
		"       remusctl net barrier IFACE EPOCH\n"
		"       remusctl net release IFACE EPOCH\n"
		"       remusctl net discard IFACE\n"
		"       remusctl net mode IFACE { buffer | passthrough }\n"
		"       remusctl net limit IFACE [ packets N ] [ bytes N ]\n"
		"       remusctl net monitor\n"
		"IFACE is the guest's interface (vifX.Y) or a device whose root qdisc is remus.\n");
}

static int net_attach(struct ctl *c, int argc, char **argv)
{
	struct remus_netbuf_attach_info info;
	unsigned int flags = 0;
	int err;

	if (argc < 1)
		return ctl_usage_error(c, "attach: missing IFACE");
	if (argc == 2 && !strcmp(argv[1], "plug"))
		flags |= REMUS_NETBUF_F_PLUG;
	else if (argc > 1)
		return ctl_usage_error(c, "attach: unexpected \"%s\"", argv[1]);

	err = remus_netbuf_attach(argv[0], flags, &info);
	switch (err) {
	case 0:
		break;
	case -ENODEV:
		fprintf(stderr, "%s: attach %s: no such interface\n", c->prog,
			argv[0]);
		return EXIT_FAILURE;
	case -EOPNOTSUPP:
		fprintf(stderr, "%s: attach %s: cannot create an IFB device: is the ifb module available?\n",
			c->prog, argv[0]);
		return EXIT_FAILURE;
	case -EBUSY:
		fprintf(stderr, "%s: attach %s: interface busy: its ingress has filters of someone else, or %s is taken\n",
			c->prog, argv[0], info.ifb);
		return EXIT_FAILURE;
	default:
		return ctl_fail(c, "attach", err, NULL);
	}
	if (c->json) {
		remus_json_obj_start(&c->j, NULL);
		remus_json_str(&c->j, "ifname", argv[0]);
		remus_json_str(&c->j, "ifb", info.ifb);
		remus_json_str(&c->j, "qdisc", remus_netbuf_kind_name(info.kind));
		remus_json_bool(&c->j, "already", info.already);
		remus_json_obj_end(&c->j);
	} else {
		printf("%s: buffered on %s by %s%s\n", argv[0], info.ifb,
		       remus_netbuf_kind_name(info.kind),
		       info.already ? " (already attached)" : "");
	}
	if (info.kind == REMUS_NETBUF_PLUG)
		fprintf(stderr, "%s: remus.ko is not loaded: fell back to sch_plug, which holds one epoch in flight at most\n",
			c->prog);
	return EXIT_SUCCESS;
}

static int net_detach(struct ctl *c, int argc, char **argv)
{
	int err;

	if (argc != 1)
		return ctl_usage_error(c, "detach: want IFACE");
	err = remus_netbuf_detach(argv[0]);
	if (err == -ENOENT) {
		fprintf(stderr, "%s: detach %s: no buffer attached\n", c->prog,
			argv[0]);
		return EXIT_FAILURE;
	}
	if (err == -ENODEV) {
		fprintf(stderr, "%s: detach %s: no such interface\n", c->prog,
			argv[0]);
		return EXIT_FAILURE;
	}
	return err ? ctl_fail(c, "detach", err, NULL) : EXIT_SUCCESS;
}

struct show {
	struct ctl *c;
};

static int show_cb(const struct remus_buf_info *info, void *data)
{
	struct show *s = data;

	ctl_print_buf(s->c, info, NULL);
	return 0;
}

/* The device holding IFACE's buffer, and its kind. */
static int net_lookup(struct ctl *c, const char *ifname, char *dev,
		      size_t len)
{
	int idx = remus_netbuf_resolve(ifname, dev, len);

	if (idx == -ENODEV)
		fprintf(stderr, "%s: %s: no such interface\n", c->prog, ifname);
	else if (idx == -ENOENT)
		fprintf(stderr, "%s: %s: no buffer: neither attached nor a remus root qdisc\n",
			c->prog, ifname);
	else if (idx < 0)
		ctl_fail(c, ifname, idx, NULL);
	return idx;
}

static int net_show(struct ctl *c, int argc, char **argv)
{
	struct remus_buf_info *info;
	struct show s = { .c = c };
	char dev[IF_NAMESIZE];
	uint32_t flags = 0;
	struct remus_nl nl;
	const char *iface = NULL;
	int i, idx, err;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "epochs"))
			flags |= REMUS_F_EPOCHS;
		else if (!iface)
			iface = argv[i];
		else
			return ctl_usage_error(c, "show: unexpected \"%s\"",
					       argv[i]);
	}
	if (ctl_open_nl(c, &nl))
		return EXIT_FAILURE;
	if (c->json)
		remus_json_arr_start(&c->j, NULL);
	if (!iface) {
		err = remus_net_dump(&nl, flags, show_cb, &s);
		goto out;
	}
	idx = net_lookup(c, iface, dev, sizeof(dev));
	if (idx < 0) {
		err = idx;
		goto out_quiet;
	}
	info = malloc(sizeof(*info));
	err = -ENOMEM;
	if (info) {
		err = remus_net_get(&nl, idx, flags, info);
		if (!err)
			ctl_print_buf(c, info, strcmp(dev, iface) ? iface : NULL);
		free(info);
	}
out:
	if (c->json)
		remus_json_arr_end(&c->j);
	if (err) {
		ctl_fail(c, "show", err, &nl);
		remus_nl_close(&nl);
		return EXIT_FAILURE;
	}
	remus_nl_close(&nl);
	return EXIT_SUCCESS;
out_quiet:
	if (c->json)
		remus_json_arr_end(&c->j);
	remus_nl_close(&nl);
	return EXIT_FAILURE;
}

enum net_op { OP_BARRIER, OP_RELEASE, OP_DISCARD, OP_MODE, OP_LIMIT };

/*
 * Operations go through the netbuf API, so that they work on sch_plug
 * too. A plug has no epoch numbers: barrier closes the open epoch and
 * release lets the closed one out, whatever EPOCH says.
 */
static int net_op(struct ctl *c, enum net_op op, int argc, char **argv)
{
	static const char *const names[] = { "barrier", "release", "discard",
					     "mode", "limit" };
	const char *name = names[op];
	uint64_t epoch = 0, bytes = 0, v;
	uint32_t mode = 0, pkts = 0;
	bool has_pkts = false, has_bytes = false;
	struct remus_netbuf nb;
	struct remus_nl nl;
	bool have_nl;
	int err, i;

	if (argc < 1)
		return ctl_usage_error(c, "%s: missing IFACE", name);
	switch (op) {
	case OP_BARRIER:
	case OP_RELEASE:
		if (argc != 2 || ctl_parse_u64(argv[1], &epoch))
			return ctl_usage_error(c, "%s: want IFACE EPOCH (a decimal number)",
					       name);
		break;
	case OP_DISCARD:
		if (argc != 1)
			return ctl_usage_error(c, "discard: want IFACE");
		break;
	case OP_MODE:
		if (argc != 2 || remus_mode_parse(argv[1], &mode))
			return ctl_usage_error(c, "mode: want IFACE { buffer | passthrough }");
		break;
	case OP_LIMIT:
		for (i = 1; i + 1 < argc; i += 2) {
			if (ctl_parse_u64(argv[i + 1], &v) || !v)
				return ctl_usage_error(c, "limit: bad number \"%s\"",
						       argv[i + 1]);
			if (!strcmp(argv[i], "packets") && v <= UINT32_MAX) {
				pkts = (uint32_t)v;
				has_pkts = true;
			} else if (!strcmp(argv[i], "bytes")) {
				bytes = v;
				has_bytes = true;
			} else {
				return ctl_usage_error(c, "limit: unexpected \"%s\"",
						       argv[i]);
			}
		}
		if (i != argc || (!has_pkts && !has_bytes))
			return ctl_usage_error(c, "limit: want IFACE [ packets N ] [ bytes N ]");
		break;
	}

	have_nl = remus_nl_open(&nl) == 0;
	err = remus_netbuf_open(&nb, argv[0], have_nl ? &nl : NULL);
	if (err) {
		if (err == -ENODEV || err == -ENOENT)
			net_lookup(c, argv[0], nb.ifb, sizeof(nb.ifb));
		else
			ctl_fail(c, name, err, have_nl ? &nl : NULL);
		goto out;
	}
	if (nb.kind == REMUS_NETBUF_PLUG && (op == OP_BARRIER ||
					     op == OP_RELEASE)) {
		nb.barrier = op == OP_RELEASE ? epoch : 0;
		nb.released = 0;
	}
	switch (op) {
	case OP_BARRIER:
		err = remus_netbuf_barrier(&nb, epoch);
		break;
	case OP_RELEASE:
		err = remus_netbuf_release(&nb, epoch);
		break;
	case OP_DISCARD:
		err = remus_netbuf_discard(&nb);
		break;
	case OP_MODE:
		if (mode == REMUS_MODE_PASSTHROUGH)
			err = remus_netbuf_passthrough(&nb);
		else if (nb.kind == REMUS_NETBUF_PLUG)
			err = -EOPNOTSUPP;
		else
			err = remus_net_set(&nl, nb.ifb_ifindex, &mode, NULL,
					    NULL);
		break;
	case OP_LIMIT:
		if (nb.kind == REMUS_NETBUF_PLUG)
			err = -EOPNOTSUPP;
		else
			err = remus_net_set(&nl, nb.ifb_ifindex, NULL,
					    has_pkts ? &pkts : NULL,
					    has_bytes ? &bytes : NULL);
		break;
	}
	remus_netbuf_close(&nb);
	if (err == -EOPNOTSUPP && nb.kind == REMUS_NETBUF_PLUG)
		fprintf(stderr, "%s: %s %s: not possible on sch_plug (remus.ko is not loaded)\n",
			c->prog, name, argv[0]);
	else if (err)
		ctl_fail(c, name, err, have_nl ? &nl : NULL);
out:
	if (have_nl)
		remus_nl_close(&nl);
	return err ? EXIT_FAILURE : EXIT_SUCCESS;
}

int ctl_net(struct ctl *c, int argc, char **argv)
{
	if (argc < 1 || !strcmp(argv[0], "help")) {
		net_usage(argc < 1 ? stderr : stdout);
		return argc < 1 ? EXIT_USAGE : EXIT_SUCCESS;
	}
	if (!strcmp(argv[0], "attach"))
		return net_attach(c, argc - 1, argv + 1);
	if (!strcmp(argv[0], "detach"))
		return net_detach(c, argc - 1, argv + 1);
	if (!strcmp(argv[0], "show") || !strcmp(argv[0], "list"))
		return net_show(c, argc - 1, argv + 1);
	if (!strcmp(argv[0], "barrier"))
		return net_op(c, OP_BARRIER, argc - 1, argv + 1);
	if (!strcmp(argv[0], "release"))
		return net_op(c, OP_RELEASE, argc - 1, argv + 1);
	if (!strcmp(argv[0], "discard"))
		return net_op(c, OP_DISCARD, argc - 1, argv + 1);
	if (!strcmp(argv[0], "mode"))
		return net_op(c, OP_MODE, argc - 1, argv + 1);
	if (!strcmp(argv[0], "limit"))
		return net_op(c, OP_LIMIT, argc - 1, argv + 1);
	if (!strcmp(argv[0], "monitor")) {
		if (argc != 1)
			return ctl_usage_error(c, "monitor: unexpected \"%s\"",
					       argv[1]);
		return ctl_monitor(c, true, false);
	}
	return ctl_usage_error(c, "net: command \"%s\" is unknown", argv[0]);
}
