// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Client of the `remus` generic netlink family, on libmnl.
 *
 * Replies are parsed the way iproute2 does it: attributes into a tb[]
 * table, unknown types skipped (a newer module may add some), each known
 * attribute's type checked before it is read.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include "nl.h"

#define NL_BUF_SIZE (64 * 1024)

static int nl_send(struct remus_nl *nl, struct nlmsghdr *nlh)
{
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	return 0;
}

/* The extack of an error or of a warning ack, kept for the caller. */
static void nl_save_extack(struct remus_nl *nl, const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *attr;
	size_t off = sizeof(*e);

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
	if (mnl_nlmsg_get_payload_len(nlh) < off)
		return;
	mnl_attr_for_each_payload((const struct nlattr *)((const char *)e + off),
				  mnl_nlmsg_get_payload_len(nlh) - off) {
		switch (mnl_attr_get_type(attr)) {
		case NLMSGERR_ATTR_MSG:
			if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
				snprintf(nl->errmsg, sizeof(nl->errmsg), "%s",
					 mnl_attr_get_str(attr));
			break;
		case NLMSGERR_ATTR_OFFS:
			if (mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
				nl->err_attr_offset = mnl_attr_get_u32(attr);
			break;
		}
	}
}

struct nl_wait {
	struct remus_nl *nl;
	mnl_cb_t cb;
	void *data;
};

static int nl_err_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	struct nl_wait *w = data;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e))) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	nl_save_extack(w->nl, nlh);
	if (e->error) {
		errno = -e->error;
		return MNL_CB_ERROR;
	}
	return MNL_CB_STOP;
}

/* The end of a dump; its payload is the dump's error code. */
static int nl_done_cb(const struct nlmsghdr *nlh, void *data)
{
	const int *err = mnl_nlmsg_get_payload(nlh);

	if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(*err) && *err) {
		errno = -*err;
		return MNL_CB_ERROR;
	}
	return MNL_CB_STOP;
}

static int nl_noop_cb(const struct nlmsghdr *nlh, void *data)
{
	return MNL_CB_OK;
}

static int nl_data_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_wait *w = data;

	return w->cb ? w->cb(nlh, w->data) : MNL_CB_OK;
}

int remus_nl_exec(struct remus_nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb,
		  void *data)
{
	static mnl_cb_t ctl_cb[NLMSG_MIN_TYPE] = {
		[NLMSG_NOOP] = nl_noop_cb,
		[NLMSG_ERROR] = nl_err_cb,
		[NLMSG_DONE] = nl_done_cb,
	};
	struct nl_wait w = { .nl = nl, .cb = cb, .data = data };
	uint32_t seq = nlh->nlmsg_seq;
	ssize_t n;
	int ret, err;

	nl->errmsg[0] = '\0';
	nl->err_attr_offset = 0;
	err = nl_send(nl, nlh);
	if (err)
		return err;
	for (;;) {
		n = mnl_socket_recvfrom(nl->sock, nl->buf, nl->buf_size);
		if (n < 0 && errno == EINTR)
			continue;	/* a signal is no answer */
		if (n < 0)
			return -errno;
		errno = 0;
		ret = mnl_cb_run2(nl->buf, n, seq, nl->portid, nl_data_cb, &w,
				  ctl_cb, NLMSG_MIN_TYPE);
		if (ret == MNL_CB_ERROR)
			return errno ? -errno : -EPROTO;
		if (ret <= MNL_CB_STOP)
			return 0;
	}
}

struct nlmsghdr *remus_nl_request(struct remus_nl *nl, uint8_t cmd,
				  uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(nl->buf);
	struct genlmsghdr *g;

	nlh->nlmsg_type = nl->family;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	nlh->nlmsg_seq = ++nl->seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = REMUS_GENL_VERSION;
	return nlh;
}

/* Family and group ids from the controller. */
static int nl_ctrl_grp(const struct nlattr *nest, struct remus_nl *nl)
{
	const struct nlattr *g, *a;

	mnl_attr_for_each_nested(g, nest) {
		const char *name = NULL;
		uint32_t id = 0;

		mnl_attr_for_each_nested(a, g) {
			if (mnl_attr_get_type(a) == CTRL_ATTR_MCAST_GRP_NAME &&
			    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
				name = mnl_attr_get_str(a);
			if (mnl_attr_get_type(a) == CTRL_ATTR_MCAST_GRP_ID &&
			    mnl_attr_validate(a, MNL_TYPE_U32) == 0)
				id = mnl_attr_get_u32(a);
		}
		if (name && !strcmp(name, REMUS_GENL_MCGRP_EVENTS))
			nl->mcgrp_events = id;
	}
	return 0;
}

static int nl_ctrl_cb(const struct nlmsghdr *nlh, void *data)
{
	struct remus_nl *nl = data;
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		switch (mnl_attr_get_type(a)) {
		case CTRL_ATTR_FAMILY_ID:
			if (mnl_attr_validate(a, MNL_TYPE_U16) == 0)
				nl->family = mnl_attr_get_u16(a);
			break;
		case CTRL_ATTR_MCAST_GROUPS:
			nl_ctrl_grp(a, nl);
			break;
		}
	}
	return MNL_CB_OK;
}

int remus_nl_open(struct remus_nl *nl)
{
	struct nlmsghdr *nlh;
	struct genlmsghdr *g;
	int one = 1, err;

	memset(nl, 0, sizeof(*nl));
	nl->buf_size = NL_BUF_SIZE;
	nl->buf = malloc(nl->buf_size);
	if (!nl->buf)
		return -ENOMEM;
	nl->sock = mnl_socket_open(NETLINK_GENERIC);
	if (!nl->sock) {
		err = -errno;
		goto err_buf;
	}
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto err_sock;
	}
	mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &one, sizeof(one));
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = (uint32_t)time(NULL);

	nlh = mnl_nlmsg_put_header(nl->buf);
	nlh->nlmsg_type = GENL_ID_CTRL;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = ++nl->seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = CTRL_CMD_GETFAMILY;
	g->version = 1;
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, REMUS_GENL_NAME);
	err = remus_nl_exec(nl, nlh, nl_ctrl_cb, nl);
	if (err)
		goto err_sock;	/* -ENOENT: remus.ko is not loaded */
	if (!nl->family || !nl->mcgrp_events) {
		err = -EPROTO;
		goto err_sock;
	}
	return 0;

err_sock:
	mnl_socket_close(nl->sock);
	nl->sock = NULL;
err_buf:
	free(nl->buf);
	nl->buf = NULL;
	return err;
}

void remus_nl_close(struct remus_nl *nl)
{
	if (nl->sock)
		mnl_socket_close(nl->sock);
	free(nl->buf);
	nl->sock = NULL;
	nl->buf = NULL;
}

const char *remus_nl_errmsg(const struct remus_nl *nl)
{
	return nl->errmsg;
}

static int parse_stats(const struct nlattr *nest, struct remus_buf_stats *s)
{
	uint64_t *f = (uint64_t *)s;
	const unsigned int nf = sizeof(*s) / sizeof(uint64_t);
	const struct nlattr *a;

	mnl_attr_for_each_nested(a, nest) {
		unsigned int t = mnl_attr_get_type(a);

		if (t < REMUS_STATS_A_BACKLOG_PKTS ||
		    t - REMUS_STATS_A_BACKLOG_PKTS >= nf)
			continue;
		if (mnl_attr_validate(a, MNL_TYPE_U64) < 0)
			return -EBADMSG;
		f[t - REMUS_STATS_A_BACKLOG_PKTS] = mnl_attr_get_u64(a);
	}
	return 0;
}

static int parse_epoch(const struct nlattr *nest, struct remus_epoch_info *e)
{
	const struct nlattr *a;

	mnl_attr_for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case REMUS_EPOCH_A_EPOCH:
			if (mnl_attr_validate(a, MNL_TYPE_U64) < 0)
				return -EBADMSG;
			e->epoch = mnl_attr_get_u64(a);
			break;
		case REMUS_EPOCH_A_PKTS:
			if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
				return -EBADMSG;
			e->pkts = mnl_attr_get_u32(a);
			break;
		case REMUS_EPOCH_A_BYTES:
			if (mnl_attr_validate(a, MNL_TYPE_U64) < 0)
				return -EBADMSG;
			e->bytes = mnl_attr_get_u64(a);
			break;
		}
	}
	return 0;
}

static const enum mnl_attr_data_type attr_types[REMUS_A_MAX + 1] = {
	[REMUS_A_IFINDEX]	= MNL_TYPE_U32,
	[REMUS_A_IFNAME]	= MNL_TYPE_NUL_STRING,
	[REMUS_A_FLAGS]		= MNL_TYPE_U32,
	[REMUS_A_MODE]		= MNL_TYPE_U32,
	[REMUS_A_LIMIT_PKTS]	= MNL_TYPE_U32,
	[REMUS_A_LIMIT_BYTES]	= MNL_TYPE_U64,
	[REMUS_A_BARRIER]	= MNL_TYPE_U64,
	[REMUS_A_RELEASED]	= MNL_TYPE_U64,
	[REMUS_A_STATS]		= MNL_TYPE_NESTED,
	[REMUS_A_EVENT]		= MNL_TYPE_U32,
	[REMUS_A_DISK_NAME]	= MNL_TYPE_NUL_STRING,
	[REMUS_A_DISK_DEV]	= MNL_TYPE_U32,
	[REMUS_A_DISK_MODE]	= MNL_TYPE_U32,
};

int remus_nl_parse(const struct nlmsghdr *nlh, struct remus_buf_info *info)
{
	const struct genlmsghdr *g = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;
	int err;

	memset(info, 0, sizeof(*info));
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*g))
		return -EBADMSG;
	info->cmd = g->cmd;
	mnl_attr_for_each(a, nlh, sizeof(*g)) {
		unsigned int t = mnl_attr_get_type(a);

		if (t > REMUS_A_MAX)
			continue;
		if (t == REMUS_A_EPOCH) {
			/* u64 in events, a nest in GET replies */
			if (info->cmd == REMUS_CMD_EVENT) {
				if (mnl_attr_validate(a, MNL_TYPE_U64) < 0)
					return -EBADMSG;
				info->epoch = mnl_attr_get_u64(a);
				info->has_epoch = true;
				continue;
			}
			if (mnl_attr_validate(a, MNL_TYPE_NESTED) < 0)
				return -EBADMSG;
			if (info->nr_epochs == REMUS_EPOCHS_MAX)
				continue;
			err = parse_epoch(a, &info->epochs[info->nr_epochs++]);
			if (err)
				return err;
			continue;
		}
		if (!attr_types[t])
			continue;
		if (mnl_attr_validate(a, attr_types[t]) < 0)
			return -EBADMSG;
		switch (t) {
		case REMUS_A_IFINDEX:
			info->ifindex = mnl_attr_get_u32(a);
			break;
		case REMUS_A_IFNAME:
			snprintf(info->ifname, sizeof(info->ifname), "%s",
				 mnl_attr_get_str(a));
			break;
		case REMUS_A_MODE:
			info->mode = mnl_attr_get_u32(a);
			break;
		case REMUS_A_LIMIT_PKTS:
			info->limit_pkts = mnl_attr_get_u32(a);
			break;
		case REMUS_A_LIMIT_BYTES:
			info->limit_bytes = mnl_attr_get_u64(a);
			break;
		case REMUS_A_BARRIER:
			info->barrier = mnl_attr_get_u64(a);
			break;
		case REMUS_A_RELEASED:
			info->released = mnl_attr_get_u64(a);
			break;
		case REMUS_A_STATS:
			err = parse_stats(a, &info->stats);
			if (err)
				return err;
			info->has_stats = true;
			break;
		case REMUS_A_EVENT:
			info->event = mnl_attr_get_u32(a);
			break;
		case REMUS_A_DISK_NAME:
			snprintf(info->disk_name, sizeof(info->disk_name),
				 "%s", mnl_attr_get_str(a));
			info->has_disk = true;
			break;
		case REMUS_A_DISK_DEV:
			info->disk_dev = mnl_attr_get_u32(a);
			info->has_disk = true;
			break;
		case REMUS_A_DISK_MODE:
			info->disk_mode = mnl_attr_get_u32(a);
			break;
		}
	}
	return 0;
}

static int get_cb(const struct nlmsghdr *nlh, void *data)
{
	return remus_nl_parse(nlh, data) ? MNL_CB_ERROR : MNL_CB_OK;
}

static void put_net_sel(struct nlmsghdr *nlh, uint32_t ifindex)
{
	mnl_attr_put_u32(nlh, REMUS_A_IFINDEX, ifindex);
}

int remus_net_get(struct remus_nl *nl, uint32_t ifindex, uint32_t flags,
		  struct remus_buf_info *info)
{
	struct nlmsghdr *nlh = remus_nl_request(nl, REMUS_CMD_NET_GET, 0);

	put_net_sel(nlh, ifindex);
	if (flags)
		mnl_attr_put_u32(nlh, REMUS_A_FLAGS, flags);
	return remus_nl_exec(nl, nlh, get_cb, info);
}

struct dump_ctx {
	int (*each)(const struct nlmsghdr *nlh, void *data);
	void *data;
	int err;
};

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *d = data;

	d->err = d->each(nlh, d->data);
	if (d->err < 0)
		return MNL_CB_ERROR;
	return d->err ? MNL_CB_STOP : MNL_CB_OK;
}

int remus_nl_dump(struct remus_nl *nl, uint8_t cmd, uint32_t flags,
		  int (*each)(const struct nlmsghdr *nlh, void *data),
		  void *data)
{
	struct nlmsghdr *nlh = remus_nl_request(nl, cmd, NLM_F_DUMP);
	struct dump_ctx d = { .each = each, .data = data };
	int err;

	if (flags)
		mnl_attr_put_u32(nlh, REMUS_A_FLAGS, flags);
	err = remus_nl_exec(nl, nlh, dump_cb, &d);
	return err ? err : d.err < 0 ? d.err : 0;
}

struct net_dump {
	remus_buf_cb cb;
	void *data;
	struct remus_buf_info info;
};

static int net_each(const struct nlmsghdr *nlh, void *data)
{
	struct net_dump *d = data;
	int err = remus_nl_parse(nlh, &d->info);

	return err ? err : d->cb(&d->info, d->data);
}

int remus_net_dump(struct remus_nl *nl, uint32_t flags, remus_buf_cb cb,
		   void *data)
{
	struct net_dump *d = calloc(1, sizeof(*d));
	int err;

	if (!d)
		return -ENOMEM;
	d->cb = cb;
	d->data = data;
	err = remus_nl_dump(nl, REMUS_CMD_NET_GET, flags, net_each, d);
	free(d);
	return err;
}

static int net_epoch_cmd(struct remus_nl *nl, uint8_t cmd, uint32_t ifindex,
			 uint64_t epoch)
{
	struct nlmsghdr *nlh = remus_nl_request(nl, cmd, 0);

	put_net_sel(nlh, ifindex);
	mnl_attr_put_u64(nlh, REMUS_A_EPOCH, epoch);
	return remus_nl_exec(nl, nlh, NULL, NULL);
}

int remus_net_barrier(struct remus_nl *nl, uint32_t ifindex, uint64_t epoch)
{
	return net_epoch_cmd(nl, REMUS_CMD_NET_BARRIER, ifindex, epoch);
}

int remus_net_release(struct remus_nl *nl, uint32_t ifindex, uint64_t epoch)
{
	return net_epoch_cmd(nl, REMUS_CMD_NET_RELEASE, ifindex, epoch);
}

int remus_net_discard(struct remus_nl *nl, uint32_t ifindex)
{
	struct nlmsghdr *nlh = remus_nl_request(nl, REMUS_CMD_NET_DISCARD, 0);

	put_net_sel(nlh, ifindex);
	return remus_nl_exec(nl, nlh, NULL, NULL);
}

int remus_net_set(struct remus_nl *nl, uint32_t ifindex, const uint32_t *mode,
		  const uint32_t *limit_pkts, const uint64_t *limit_bytes)
{
	struct nlmsghdr *nlh = remus_nl_request(nl, REMUS_CMD_NET_SET, 0);

	put_net_sel(nlh, ifindex);
	if (mode)
		mnl_attr_put_u32(nlh, REMUS_A_MODE, *mode);
	if (limit_pkts)
		mnl_attr_put_u32(nlh, REMUS_A_LIMIT_PKTS, *limit_pkts);
	if (limit_bytes)
		mnl_attr_put_u64(nlh, REMUS_A_LIMIT_BYTES, *limit_bytes);
	return remus_nl_exec(nl, nlh, NULL, NULL);
}

int remus_nl_subscribe(struct remus_nl *nl)
{
	int grp = (int)nl->mcgrp_events;

	if (mnl_socket_setsockopt(nl->sock, NETLINK_ADD_MEMBERSHIP, &grp,
				  sizeof(grp)) < 0)
		return -errno;
	return 0;
}

int remus_nl_fd(const struct remus_nl *nl)
{
	return mnl_socket_get_fd(nl->sock);
}

struct event_ctx {
	remus_buf_cb cb;
	void *data;
	struct remus_buf_info info;
	int err;
};

static int event_cb(const struct nlmsghdr *nlh, void *data)
{
	struct event_ctx *e = data;
	const struct genlmsghdr *g = mnl_nlmsg_get_payload(nlh);

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*g) ||
	    g->cmd != REMUS_CMD_EVENT)
		return MNL_CB_OK;
	e->err = remus_nl_parse(nlh, &e->info);
	if (e->err)
		return MNL_CB_ERROR;
	e->err = e->cb(&e->info, e->data);
	return e->err ? MNL_CB_STOP : MNL_CB_OK;
}

int remus_nl_events(struct remus_nl *nl, remus_buf_cb cb, void *data)
{
	struct event_ctx *e;
	ssize_t n;
	int ret, err = 0;

	n = mnl_socket_recvfrom(nl->sock, nl->buf, nl->buf_size);
	if (n < 0)
		return -errno;	/* -ENOBUFS: the socket overran, events lost */
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->cb = cb;
	e->data = data;
	ret = mnl_cb_run(nl->buf, n, 0, 0, event_cb, e);
	if (ret == MNL_CB_ERROR)
		err = e->err ? e->err : -errno;
	else if (e->err)
		err = e->err;
	free(e);
	return err;
}

const char *remus_event_name(uint32_t event)
{
	static const char *const names[] = {
		[REMUS_EVENT_NET_CREATED]	= "net-created",
		[REMUS_EVENT_NET_DESTROYED]	= "net-destroyed",
		[REMUS_EVENT_NET_RELEASED]	= "net-released",
		[REMUS_EVENT_NET_OVERLIMIT]	= "net-overlimit",
		[REMUS_EVENT_DISK_CREATED]	= "disk-created",
		[REMUS_EVENT_DISK_DESTROYED]	= "disk-destroyed",
		[REMUS_EVENT_DISK_COMMITTED]	= "disk-committed",
		[REMUS_EVENT_DISK_LOG_FULL]	= "disk-log-full",
	};

	if (event < sizeof(names) / sizeof(names[0]) && names[event])
		return names[event];
	return "unknown";
}

const char *remus_mode_name(uint32_t mode)
{
	switch (mode) {
	case REMUS_MODE_BUFFER:
		return "buffer";
	case REMUS_MODE_PASSTHROUGH:
		return "passthrough";
	}
	return "unknown";
}

int remus_mode_parse(const char *s, uint32_t *mode)
{
	if (!strcmp(s, "buffer"))
		*mode = REMUS_MODE_BUFFER;
	else if (!strcmp(s, "passthrough") || !strcmp(s, "pass-through"))
		*mode = REMUS_MODE_PASSTHROUGH;
	else
		return -EINVAL;
	return 0;
}
