/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the kernel net suites: raw netlink (libmnl) for the remus
 * generic netlink family and for rtnetlink, network namespaces joined by
 * veth, and an epoch-tagged UDP sender and receiver.
 *
 * The tests talk to the kernel interface directly, not through lib/, so
 * that they can send what a correct client never would and check what the
 * module answers byte by byte. Nothing here asserts: helpers return 0 or
 * -errno and fill structs; the tests decide.
 *
 * Header only, so that every selftests/net/<test>.c builds into one
 * program on its own.
 */
#ifndef NETTEST_H
#define NETTEST_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <libmnl/libmnl.h>
#include <linux/gen_stats.h>
#include <linux/genetlink.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include "linux/remus.h"

#define NT_FN static __attribute__((unused))

#ifndef IF_OPER_UP
#define IF_OPER_UP 6	/* linux/if.h, which clashes with net/if.h */
#endif

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

#define NT_BUFSZ	(64 * 1024)

/* Addresses of the veth pair: "a" holds the qdisc, "b" receives. */
#define NT_ADDR_A	"10.77.0.1"
#define NT_ADDR_B	"10.77.0.2"
#define NT_PORT		4242
#define NT_IF_A		"veth0"
#define NT_IF_B		"veth1"
static const uint8_t nt_mac_a[6] = { 0x02, 0x52, 0x4d, 0x00, 0x00, 0x01 };
static const uint8_t nt_mac_b[6] = { 0x02, 0x52, 0x4d, 0x00, 0x00, 0x02 };

/* Layer 2 length of one test datagram of `payload` bytes over IPv4. */
#define NT_L2LEN(payload)	(14 + 20 + 8 + (payload))

NT_FN uint64_t nt_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

NT_FN void nt_sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* ------------------------------------------------------------------ */
/* netlink sockets and acks                                            */
/* ------------------------------------------------------------------ */

/* What the kernel said about one request. */
struct nt_ack {
	int err;		/* 0 or -errno */
	char msg[256];		/* NLMSGERR_ATTR_MSG, or "" */
	bool has_msg;
	bool has_offs;
	uint32_t offs;		/* NLMSGERR_ATTR_OFFS */
	bool has_miss_type;
	uint32_t miss_type;	/* NLMSGERR_ATTR_MISS_TYPE */
	bool has_miss_nest;
	uint32_t miss_nest;
	bool has_policy;	/* NLMSGERR_ATTR_POLICY */
	bool capped;		/* NLM_F_CAPPED was set */
};

struct nt_nl {
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;
	uint16_t family;	/* remus family id (generic netlink) */
	uint32_t mcgrp;		/* id of the "events" group */
	char *buf;
};

NT_FN int nt_nl_open(struct nt_nl *s, int proto)
{
	int one = 1;
	struct timeval tv = { .tv_sec = 10 };

	memset(s, 0, sizeof(*s));
	s->buf = malloc(NT_BUFSZ);
	if (!s->buf)
		return -ENOMEM;
	s->nl = mnl_socket_open(proto);
	if (!s->nl)
		goto err;
	if (mnl_socket_bind(s->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		goto err;
	if (mnl_socket_setsockopt(s->nl, NETLINK_EXT_ACK, &one, sizeof(one)) ||
	    mnl_socket_setsockopt(s->nl, NETLINK_CAP_ACK, &one, sizeof(one)))
		goto err;
	/* A lost ack must not hang the test. */
	if (setsockopt(mnl_socket_get_fd(s->nl), SOL_SOCKET, SO_RCVTIMEO,
		       &tv, sizeof(tv)))
		goto err;
	s->portid = mnl_socket_get_portid(s->nl);
	s->seq = (uint32_t)time(NULL);
	return 0;
err:
	{
		int err = -errno;

		if (s->nl)
			mnl_socket_close(s->nl);
		s->nl = NULL;
		free(s->buf);
		s->buf = NULL;
		return err ? err : -EIO;
	}
}

NT_FN void nt_nl_close(struct nt_nl *s)
{
	if (s->nl)
		mnl_socket_close(s->nl);
	s->nl = NULL;
	free(s->buf);
	s->buf = NULL;
}

NT_FN int nt_ack_attr_cb(const struct nlattr *a, void *data)
{
	struct nt_ack *ack = data;

	switch (mnl_attr_get_type(a)) {
	case NLMSGERR_ATTR_MSG:
		if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0) {
			snprintf(ack->msg, sizeof(ack->msg), "%s",
				 mnl_attr_get_str(a));
			ack->has_msg = true;
		}
		break;
	case NLMSGERR_ATTR_OFFS:
		if (mnl_attr_validate(a, MNL_TYPE_U32) == 0) {
			ack->offs = mnl_attr_get_u32(a);
			ack->has_offs = true;
		}
		break;
	case NLMSGERR_ATTR_MISS_TYPE:
		if (mnl_attr_validate(a, MNL_TYPE_U32) == 0) {
			ack->miss_type = mnl_attr_get_u32(a);
			ack->has_miss_type = true;
		}
		break;
	case NLMSGERR_ATTR_MISS_NEST:
		if (mnl_attr_validate(a, MNL_TYPE_U32) == 0) {
			ack->miss_nest = mnl_attr_get_u32(a);
			ack->has_miss_nest = true;
		}
		break;
	case NLMSGERR_ATTR_POLICY:
		ack->has_policy = true;
		break;
	}
	return MNL_CB_OK;
}

/* Fill *ack from an NLMSG_ERROR or NLMSG_DONE message. */
NT_FN void nt_parse_ack(const struct nlmsghdr *nlh, struct nt_ack *ack)
{
	unsigned int off;

	memset(ack, 0, sizeof(*ack));
	if (nlh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

		ack->err = e->error;
		ack->capped = nlh->nlmsg_flags & NLM_F_CAPPED;
		off = sizeof(*e);
		if (!ack->capped)
			off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
	} else {
		ack->err = *(const int *)mnl_nlmsg_get_payload(nlh);
		off = sizeof(int);
	}
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS)
		mnl_attr_parse(nlh, off, nt_ack_attr_cb, ack);
}

NT_FN const char *nt_ack_str(const struct nt_ack *a)
{
	static char s[512];

	snprintf(s, sizeof(s), "err %d (%s), msg \"%s\"%s, offs %s%u, miss_type %s%u",
		 a->err, a->err ? strerror(-a->err) : "ok", a->msg,
		 a->has_msg ? "" : " (none)", a->has_offs ? "" : "none/",
		 a->offs, a->has_miss_type ? "" : "none/", a->miss_type);
	return s;
}

/*
 * Send the request in nlh (its sequence number is set here) and read up to
 * its ack, or the NLMSG_DONE of a dump. Every other message of the request
 * goes to cb. Returns the ack's error (0 or -errno) or a socket error.
 */
NT_FN int nt_nl_xfer(struct nt_nl *s, struct nlmsghdr *nlh, struct nt_ack *ack,
		     mnl_cb_t cb, void *data)
{
	struct nt_ack local;
	bool dump = (nlh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
	uint32_t seq = ++s->seq;
	char *rbuf = s->buf;

	if (!ack)
		ack = &local;
	memset(ack, 0, sizeof(*ack));
	nlh->nlmsg_seq = seq;
	nlh->nlmsg_pid = 0;
	if (!dump)
		nlh->nlmsg_flags |= NLM_F_ACK;
	if (mnl_socket_sendto(s->nl, nlh, nlh->nlmsg_len) < 0)
		return ack->err = -errno;

	for (;;) {
		ssize_t n = mnl_socket_recvfrom(s->nl, rbuf, NT_BUFSZ);
		const struct nlmsghdr *m = (const struct nlmsghdr *)rbuf;
		int len = (int)n;

		if (n < 0)
			return ack->err = (errno == EAGAIN ? -ETIMEDOUT : -errno);
		for (; mnl_nlmsg_ok(m, len); m = mnl_nlmsg_next(m, &len)) {
			if (m->nlmsg_seq != seq)
				continue;
			if (m->nlmsg_type == NLMSG_ERROR ||
			    (dump && m->nlmsg_type == NLMSG_DONE)) {
				nt_parse_ack(m, ack);
				return ack->err;
			}
			if (m->nlmsg_type == NLMSG_NOOP || m->nlmsg_type == NLMSG_DONE)
				continue;
			if (cb && cb(m, data) < 0)
				ack->err = -EPROTO;
		}
	}
}

/* Send len bytes as they are (a malformed message), with our sequence. */
NT_FN int nt_nl_xfer_raw(struct nt_nl *s, const void *msg, size_t len,
			 uint16_t type, struct nt_ack *ack)
{
	char buf[4096];
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;

	if (len > sizeof(buf))
		return -E2BIG;
	memcpy(buf, msg, len);
	nlh->nlmsg_type = type;
	return nt_nl_xfer(s, nlh, ack, NULL, NULL);
}

/* ------------------------------------------------------------------ */
/* the remus family                                                    */
/* ------------------------------------------------------------------ */

struct nt_family_info {
	uint16_t id;
	uint32_t grp;
	char grpname[GENL_NAMSIZ];
};

NT_FN int nt_grp_cb(const struct nlattr *a, void *data)
{
	struct nt_family_info *fi = data;
	const struct nlattr *g;

	mnl_attr_for_each_nested(g, a) {
		const struct nlattr *x;
		uint32_t id = 0;
		const char *name = NULL;

		mnl_attr_for_each_nested(x, g) {
			if (mnl_attr_get_type(x) == CTRL_ATTR_MCAST_GRP_ID)
				id = mnl_attr_get_u32(x);
			else if (mnl_attr_get_type(x) == CTRL_ATTR_MCAST_GRP_NAME)
				name = mnl_attr_get_str(x);
		}
		if (name && !strcmp(name, REMUS_GENL_MCGRP_EVENTS)) {
			fi->grp = id;
			snprintf(fi->grpname, sizeof(fi->grpname), "%s", name);
		}
	}
	return MNL_CB_OK;
}

NT_FN int nt_family_attr_cb(const struct nlattr *a, void *data)
{
	struct nt_family_info *fi = data;

	if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID)
		fi->id = mnl_attr_get_u16(a);
	else if (mnl_attr_get_type(a) == CTRL_ATTR_MCAST_GROUPS)
		nt_grp_cb(a, fi);
	return MNL_CB_OK;
}

NT_FN int nt_family_cb(const struct nlmsghdr *nlh, void *data)
{
	return mnl_attr_parse(nlh, sizeof(struct genlmsghdr),
			      nt_family_attr_cb, data);
}

/* A generic netlink socket in the current namespace, family resolved. */
NT_FN int nt_genl_open(struct nt_nl *s)
{
	struct nt_family_info fi = { 0 };
	struct nlmsghdr *nlh;
	struct genlmsghdr *g;
	int err;

	err = nt_nl_open(s, NETLINK_GENERIC);
	if (err)
		return err;
	nlh = mnl_nlmsg_put_header(s->buf);
	nlh->nlmsg_type = GENL_ID_CTRL;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = CTRL_CMD_GETFAMILY;
	g->version = 1;
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, REMUS_GENL_NAME);
	err = nt_nl_xfer(s, nlh, NULL, nt_family_cb, &fi);
	if (err) {
		nt_nl_close(s);
		return err;
	}
	if (!fi.id) {
		nt_nl_close(s);
		return -ENOENT;
	}
	s->family = fi.id;
	s->mcgrp = fi.grp;
	return 0;
}

/* Join the events group (the socket then also receives events). */
NT_FN int nt_genl_subscribe(struct nt_nl *s)
{
	uint32_t grp = s->mcgrp;
	int big = 4 << 20;

	if (!grp)
		return -ENOENT;
	setsockopt(mnl_socket_get_fd(s->nl), SOL_SOCKET, SO_RCVBUFFORCE,
		   &big, sizeof(big));
	if (mnl_socket_setsockopt(s->nl, NETLINK_ADD_MEMBERSHIP, &grp,
				  sizeof(grp)))
		return -errno;
	return 0;
}

NT_FN struct nlmsghdr *nt_genl_msg(struct nt_nl *s, uint8_t cmd,
				   uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(s->buf);
	struct genlmsghdr *g;

	nlh->nlmsg_type = s->family;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = REMUS_GENL_VERSION;
	return nlh;
}

/* Selector: ifindex if non-zero, name if non-NULL (both: both are sent). */
NT_FN void nt_put_sel(struct nlmsghdr *nlh, uint32_t ifindex, const char *ifname)
{
	if (ifindex)
		mnl_attr_put_u32(nlh, REMUS_A_IFINDEX, ifindex);
	if (ifname)
		mnl_attr_put_strz(nlh, REMUS_A_IFNAME, ifname);
}

struct nt_epoch {
	uint64_t epoch;
	uint32_t pkts;
	uint64_t bytes;
};

#define NT_EPOCHS_ROOM	(REMUS_EPOCHS_MAX + 16)

/* A GET reply, or an event, as parsed, with what was wrong in it. */
struct nt_netinfo {
	uint32_t cmd;
	uint32_t ifindex;
	char ifname[IFNAMSIZ + 8];
	uint32_t mode;
	uint64_t barrier;
	uint64_t released;
	uint32_t limit_pkts;
	uint64_t limit_bytes;
	uint32_t event;
	uint64_t epoch;			/* events: REMUS_A_EPOCH */
	uint64_t st[REMUS_STATS_A_MAX + 1];
	uint32_t st_seen;		/* bit per stats attribute */
	uint64_t seen;			/* bit per top-level attribute */
	unsigned int nepochs;
	struct nt_epoch epochs[NT_EPOCHS_ROOM];
	char bad[256];			/* first problem in the reply, or "" */
};

#define NT_SEEN(t)	(1ull << (t))

NT_FN void nt_bad(struct nt_netinfo *ni, const char *fmt, ...)
{
	va_list ap;

	if (ni->bad[0])
		return;
	va_start(ap, fmt);
	vsnprintf(ni->bad, sizeof(ni->bad), fmt, ap);
	va_end(ap);
}

NT_FN int nt_stats_cb(const struct nlattr *a, void *data)
{
	struct nt_netinfo *ni = data;
	uint16_t t = mnl_attr_get_type(a);

	if (t == REMUS_STATS_A_PAD)
		return MNL_CB_OK;
	if (t == REMUS_STATS_A_UNSPEC || t > REMUS_STATS_A_MAX) {
		nt_bad(ni, "unknown stats attribute %u", t);
		return MNL_CB_OK;
	}
	if (mnl_attr_get_payload_len(a) != 8) {
		nt_bad(ni, "stats attribute %u has %u bytes, not 8", t,
		       mnl_attr_get_payload_len(a));
		return MNL_CB_OK;
	}
	if (ni->st_seen & (1u << t))
		nt_bad(ni, "stats attribute %u twice", t);
	ni->st_seen |= 1u << t;
	ni->st[t] = mnl_attr_get_u64(a);
	return MNL_CB_OK;
}

NT_FN int nt_epoch_cb(const struct nlattr *a, void *data)
{
	struct nt_netinfo *ni = data;
	struct nt_epoch *ep = &ni->epochs[ni->nepochs];
	uint16_t t = mnl_attr_get_type(a);
	unsigned int want = t == REMUS_EPOCH_A_PKTS ? 4 : 8;

	if (t == REMUS_EPOCH_A_PAD)
		return MNL_CB_OK;
	if (t == REMUS_EPOCH_A_UNSPEC || t > REMUS_EPOCH_A_MAX) {
		nt_bad(ni, "unknown epoch attribute %u", t);
		return MNL_CB_OK;
	}
	if (mnl_attr_get_payload_len(a) != want) {
		nt_bad(ni, "epoch attribute %u has %u bytes, not %u", t,
		       mnl_attr_get_payload_len(a), want);
		return MNL_CB_OK;
	}
	if (t == REMUS_EPOCH_A_EPOCH)
		ep->epoch = mnl_attr_get_u64(a);
	else if (t == REMUS_EPOCH_A_PKTS)
		ep->pkts = mnl_attr_get_u32(a);
	else
		ep->bytes = mnl_attr_get_u64(a);
	return MNL_CB_OK;
}

NT_FN int nt_info_attr_cb(const struct nlattr *a, void *data)
{
	struct nt_netinfo *ni = data;
	uint16_t t = mnl_attr_get_type(a);
	unsigned int len = mnl_attr_get_payload_len(a);
	unsigned int want = 0;

	if (t == REMUS_A_PAD)
		return MNL_CB_OK;
	if (t == REMUS_A_UNSPEC || t > REMUS_A_MAX) {
		nt_bad(ni, "unknown attribute %u", t);
		return MNL_CB_OK;
	}
	if (t != REMUS_A_EPOCH && (ni->seen & NT_SEEN(t)))
		nt_bad(ni, "attribute %u twice", t);
	ni->seen |= NT_SEEN(t);

	switch (t) {
	case REMUS_A_IFINDEX:
	case REMUS_A_MODE:
	case REMUS_A_LIMIT_PKTS:
	case REMUS_A_EVENT:
	case REMUS_A_FLAGS:
	case REMUS_A_DISK_DEV:
	case REMUS_A_DISK_MODE:
		want = 4;
		break;
	case REMUS_A_BARRIER:
	case REMUS_A_RELEASED:
	case REMUS_A_LIMIT_BYTES:
		want = 8;
		break;
	case REMUS_A_EPOCH:
		/* u64 in events, a nest in GET replies */
		if (ni->cmd == REMUS_CMD_EVENT)
			want = 8;
		break;
	}
	if (want && len != want) {
		nt_bad(ni, "attribute %u has %u bytes, not %u", t, len, want);
		return MNL_CB_OK;
	}

	switch (t) {
	case REMUS_A_IFINDEX:
		ni->ifindex = mnl_attr_get_u32(a);
		break;
	case REMUS_A_IFNAME:
		if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) || len > IFNAMSIZ)
			nt_bad(ni, "IFNAME is not a NUL-terminated name");
		else
			snprintf(ni->ifname, sizeof(ni->ifname), "%s",
				 mnl_attr_get_str(a));
		break;
	case REMUS_A_MODE:
		ni->mode = mnl_attr_get_u32(a);
		break;
	case REMUS_A_BARRIER:
		ni->barrier = mnl_attr_get_u64(a);
		break;
	case REMUS_A_RELEASED:
		ni->released = mnl_attr_get_u64(a);
		break;
	case REMUS_A_LIMIT_PKTS:
		ni->limit_pkts = mnl_attr_get_u32(a);
		break;
	case REMUS_A_LIMIT_BYTES:
		ni->limit_bytes = mnl_attr_get_u64(a);
		break;
	case REMUS_A_EVENT:
		ni->event = mnl_attr_get_u32(a);
		break;
	case REMUS_A_STATS:
		mnl_attr_parse_nested(a, nt_stats_cb, ni);
		break;
	case REMUS_A_EPOCH:
		if (ni->cmd == REMUS_CMD_EVENT) {
			ni->epoch = mnl_attr_get_u64(a);
			break;
		}
		if (ni->nepochs >= NT_EPOCHS_ROOM) {
			nt_bad(ni, "more than %u epoch nests", NT_EPOCHS_ROOM);
			break;
		}
		memset(&ni->epochs[ni->nepochs], 0, sizeof(ni->epochs[0]));
		mnl_attr_parse_nested(a, nt_epoch_cb, ni);
		ni->nepochs++;
		break;
	default:
		nt_bad(ni, "attribute %u not expected in a net reply", t);
	}
	return MNL_CB_OK;
}

NT_FN void nt_parse_info(const struct nlmsghdr *nlh, struct nt_netinfo *ni)
{
	const struct genlmsghdr *g = mnl_nlmsg_get_payload(nlh);

	memset(ni, 0, sizeof(*ni));
	ni->cmd = g->cmd;
	mnl_attr_parse(nlh, sizeof(*g), nt_info_attr_cb, ni);
}

struct nt_dump_ctx {
	struct nt_netinfo *out;
	unsigned int max;
	unsigned int n;
};

NT_FN int nt_info_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nt_dump_ctx *c = data;

	if (c->n < c->max)
		nt_parse_info(nlh, &c->out[c->n]);
	c->n++;
	return MNL_CB_OK;
}

/* NET_GET (do). ni may be NULL. */
NT_FN int nt_get(struct nt_nl *s, uint32_t ifindex, const char *ifname,
		 int64_t flags, struct nt_netinfo *ni, struct nt_ack *ack)
{
	struct nt_netinfo local;
	struct nt_dump_ctx c = { ni ? ni : &local, 1, 0 };
	struct nlmsghdr *nlh = nt_genl_msg(s, REMUS_CMD_NET_GET, 0);
	int err;

	nt_put_sel(nlh, ifindex, ifname);
	if (flags >= 0)
		mnl_attr_put_u32(nlh, REMUS_A_FLAGS, (uint32_t)flags);
	err = nt_nl_xfer(s, nlh, ack, nt_info_cb, &c);
	if (!err && c.n != 1)
		return -EBADMSG;
	return err;
}

/* NET_GET dump: returns the number of entries (all counted, at most max kept). */
NT_FN int nt_dump(struct nt_nl *s, int64_t flags, struct nt_netinfo *out,
		  unsigned int max, struct nt_ack *ack)
{
	struct nt_dump_ctx c = { out, max, 0 };
	struct nlmsghdr *nlh = nt_genl_msg(s, REMUS_CMD_NET_GET, NLM_F_DUMP);
	int err;

	if (flags >= 0)
		mnl_attr_put_u32(nlh, REMUS_A_FLAGS, (uint32_t)flags);
	err = nt_nl_xfer(s, nlh, ack, nt_info_cb, &c);
	return err ? err : (int)c.n;
}

NT_FN int nt_epoch_cmd(struct nt_nl *s, uint8_t cmd, uint32_t ifindex,
		       uint64_t epoch, struct nt_ack *ack)
{
	struct nlmsghdr *nlh = nt_genl_msg(s, cmd, 0);

	nt_put_sel(nlh, ifindex, NULL);
	mnl_attr_put_u64(nlh, REMUS_A_EPOCH, epoch);
	return nt_nl_xfer(s, nlh, ack, NULL, NULL);
}

NT_FN int nt_barrier(struct nt_nl *s, uint32_t ifindex, uint64_t n,
		     struct nt_ack *ack)
{
	return nt_epoch_cmd(s, REMUS_CMD_NET_BARRIER, ifindex, n, ack);
}

NT_FN int nt_release(struct nt_nl *s, uint32_t ifindex, uint64_t n,
		     struct nt_ack *ack)
{
	return nt_epoch_cmd(s, REMUS_CMD_NET_RELEASE, ifindex, n, ack);
}

NT_FN int nt_discard(struct nt_nl *s, uint32_t ifindex, struct nt_ack *ack)
{
	struct nlmsghdr *nlh = nt_genl_msg(s, REMUS_CMD_NET_DISCARD, 0);

	nt_put_sel(nlh, ifindex, NULL);
	return nt_nl_xfer(s, nlh, ack, NULL, NULL);
}

/* NET_SET; a negative value leaves the attribute out. */
NT_FN int nt_set(struct nt_nl *s, uint32_t ifindex, int64_t mode,
		 int64_t limit_pkts, int64_t limit_bytes, struct nt_ack *ack)
{
	struct nlmsghdr *nlh = nt_genl_msg(s, REMUS_CMD_NET_SET, 0);

	nt_put_sel(nlh, ifindex, NULL);
	if (mode >= 0)
		mnl_attr_put_u32(nlh, REMUS_A_MODE, (uint32_t)mode);
	if (limit_pkts >= 0)
		mnl_attr_put_u32(nlh, REMUS_A_LIMIT_PKTS, (uint32_t)limit_pkts);
	if (limit_bytes >= 0)
		mnl_attr_put_u64(nlh, REMUS_A_LIMIT_BYTES, (uint64_t)limit_bytes);
	return nt_nl_xfer(s, nlh, ack, NULL, NULL);
}

/*
 * Wait up to timeout_ms for the next message on a subscribed socket.
 * Returns 1 with *ev filled, 0 on timeout, -errno.
 */
NT_FN int nt_event_next(struct nt_nl *s, struct nt_netinfo *ev, int timeout_ms)
{
	struct pollfd pfd = { mnl_socket_get_fd(s->nl), POLLIN, 0 };
	uint64_t end = nt_now_ns() + (uint64_t)timeout_ms * 1000000ull;

	for (;;) {
		int64_t left = (int64_t)(end - nt_now_ns()) / 1000000;
		const struct nlmsghdr *m;
		ssize_t n;
		int r;

		if (left < 0)
			left = 0;
		r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return 0;
		n = recv(pfd.fd, s->buf, NT_BUFSZ, MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		m = (const struct nlmsghdr *)s->buf;
		if (!mnl_nlmsg_ok(m, (int)n))
			return -EBADMSG;
		/* Only multicast (seq 0, from the kernel) counts as an event. */
		if (m->nlmsg_type != s->family || m->nlmsg_seq != 0)
			continue;
		nt_parse_info(m, ev);
		return 1;
	}
}

NT_FN const char *nt_event_name(uint32_t ev)
{
	static const char *const names[] = {
		[REMUS_EVENT_UNSPEC] = "UNSPEC",
		[REMUS_EVENT_NET_CREATED] = "NET_CREATED",
		[REMUS_EVENT_NET_DESTROYED] = "NET_DESTROYED",
		[REMUS_EVENT_NET_RELEASED] = "NET_RELEASED",
		[REMUS_EVENT_NET_OVERLIMIT] = "NET_OVERLIMIT",
		[REMUS_EVENT_DISK_CREATED] = "DISK_CREATED",
		[REMUS_EVENT_DISK_DESTROYED] = "DISK_DESTROYED",
		[REMUS_EVENT_DISK_COMMITTED] = "DISK_COMMITTED",
		[REMUS_EVENT_DISK_LOG_FULL] = "DISK_LOG_FULL",
	};

	return ev <= REMUS_EVENT_MAX ? names[ev] : "?";
}

/*
 * Wait for the next event of kind `want`, collecting others into a
 * description in skipped (may be NULL). Returns 1, 0 on timeout, -errno.
 */
NT_FN int nt_event_wait(struct nt_nl *s, uint32_t want, struct nt_netinfo *ev,
			int timeout_ms, char *skipped, size_t skiplen)
{
	uint64_t end = nt_now_ns() + (uint64_t)timeout_ms * 1000000ull;

	if (skipped && skiplen)
		skipped[0] = 0;
	for (;;) {
		int64_t left = (int64_t)(end - nt_now_ns()) / 1000000;
		int r = nt_event_next(s, ev, left > 0 ? (int)left : 0);

		if (r <= 0)
			return r;
		if (ev->event == want)
			return 1;
		if (skipped) {
			size_t l = strlen(skipped);

			snprintf(skipped + l, skiplen - l, "%s%s(epoch %llu)",
				 l ? " " : "", nt_event_name(ev->event),
				 (unsigned long long)ev->epoch);
		}
	}
}

/* ------------------------------------------------------------------ */
/* rtnetlink                                                           */
/* ------------------------------------------------------------------ */

NT_FN struct nlmsghdr *nt_rt_msg(struct nt_nl *s, uint16_t type,
				 uint16_t flags, size_t hdrlen, void **hdr)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(s->buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	*hdr = mnl_nlmsg_put_extra_header(nlh, hdrlen);
	return nlh;
}

/* A veth pair: name (mac) here, peer (peer_mac) in the namespace peer_ns. */
NT_FN int nt_link_add_veth(struct nt_nl *s, const char *name,
			   const uint8_t *mac, const char *peer,
			   const uint8_t *peer_mac, int peer_ns,
			   struct nt_ack *ack)
{
	struct ifinfomsg *ifi, *pifi;
	struct nlattr *li, *data, *pn;
	struct nlmsghdr *nlh;

	nlh = nt_rt_msg(s, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL,
			sizeof(*ifi), (void **)&ifi);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	if (mac)
		mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
	li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	pn = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	/* the peer's own ifinfomsg, then its attributes */
	pifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*pifi));
	(void)pifi;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, peer);
	if (peer_mac)
		mnl_attr_put(nlh, IFLA_ADDRESS, 6, peer_mac);
	if (peer_ns >= 0)
		mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)peer_ns);
	mnl_attr_nest_end(nlh, pn);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, li);
	return nt_nl_xfer(s, nlh, ack, NULL, NULL);
}

/* A link of a kind that needs no data: dummy, ifb. */
NT_FN int nt_link_add(struct nt_nl *s, const char *name, const char *kind,
		      struct nt_ack *ack)
{
	struct ifinfomsg *ifi;
	struct nlattr *li;
	struct nlmsghdr *nlh;

	nlh = nt_rt_msg(s, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL,
			sizeof(*ifi), (void **)&ifi);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, kind);
	mnl_attr_nest_end(nlh, li);
	return nt_nl_xfer(s, nlh, ack, NULL, NULL);
}

NT_FN int nt_link_set_up(struct nt_nl *s, uint32_t ifindex, bool up,
			 struct nt_ack *ack)
{
	struct ifinfomsg *ifi;
	struct nlmsghdr *nlh;

	nlh = nt_rt_msg(s, RTM_NEWLINK, 0, sizeof(*ifi), (void **)&ifi);
	ifi->ifi_index = (int)ifindex;
	ifi->ifi_change = IFF_UP;
	ifi->ifi_flags = up ? IFF_UP : 0;
	return nt_nl_xfer(s, nlh, ack, NULL, NULL);
}

NT_FN int nt_link_del(struct nt_nl *s, uint32_t ifindex, struct nt_ack *ack)
{
	struct ifinfomsg *ifi;
	struct nlmsghdr *nlh;

	nlh = nt_rt_msg(s, RTM_DELLINK, 0, sizeof(*ifi), (void **)&ifi);
	ifi->ifi_index = (int)ifindex;
	return nt_nl_xfer(s, nlh, ack, NULL, NULL);
}

struct nt_link {
	uint32_t ifindex;
	uint32_t flags;
	uint8_t operstate;
	char name[IFNAMSIZ];
	char alias[128];
};

NT_FN int nt_link_attr_cb(const struct nlattr *a, void *data)
{
	struct nt_link *l = data;

	if (mnl_attr_get_type(a) == IFLA_OPERSTATE)
		l->operstate = mnl_attr_get_u8(a);
	else if (mnl_attr_get_type(a) == IFLA_IFNAME)
		snprintf(l->name, sizeof(l->name), "%s", mnl_attr_get_str(a));
	else if (mnl_attr_get_type(a) == IFLA_IFALIAS)
		snprintf(l->alias, sizeof(l->alias), "%s", mnl_attr_get_str(a));
	return MNL_CB_OK;
}

NT_FN int nt_link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nt_link *l = data;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);

	l->ifindex = (uint32_t)ifi->ifi_index;
	l->flags = ifi->ifi_flags;
	return mnl_attr_parse(nlh, sizeof(*ifi), nt_link_attr_cb, l);
}

/* Look a link up by name (ifindex 0) or index. -ENODEV if absent. */
NT_FN int nt_link_get(struct nt_nl *s, const char *name, uint32_t ifindex,
		      struct nt_link *l)
{
	struct ifinfomsg *ifi;
	struct nlmsghdr *nlh;

	memset(l, 0, sizeof(*l));
	nlh = nt_rt_msg(s, RTM_GETLINK, 0, sizeof(*ifi), (void **)&ifi);
	ifi->ifi_index = (int)ifindex;
	if (name)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	return nt_nl_xfer(s, nlh, NULL, nt_link_cb, l);
}

NT_FN int nt_ifindex(struct nt_nl *s, const char *name)
{
	struct nt_link l;
	int err = nt_link_get(s, name, 0, &l);

	return err ? err : (int)l.ifindex;
}

/* Poll until the link is operationally up (its qdisc is then active). */
NT_FN int nt_link_wait_up(struct nt_nl *s, uint32_t ifindex, int timeout_ms)
{
	uint64_t end = nt_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	struct nt_link l;

	do {
		int err = nt_link_get(s, NULL, ifindex, &l);

		if (err)
			return err;
		if (l.operstate == IF_OPER_UP)
			return 0;
		nt_sleep_ms(2);
	} while (nt_now_ns() < end);
	return -ETIMEDOUT;
}

NT_FN int nt_addr_add(struct nt_nl *s, uint32_t ifindex, int family,
		      const char *addr, unsigned int prefix, struct nt_ack *ack)
{
	struct ifaddrmsg *ifa;
	struct nlmsghdr *nlh;
	unsigned char a[16];

	if (inet_pton(family, addr, a) != 1)
		return -EINVAL;
	nlh = nt_rt_msg(s, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL,
			sizeof(*ifa), (void **)&ifa);
	ifa->ifa_family = (uint8_t)family;
	ifa->ifa_prefixlen = (uint8_t)prefix;
	ifa->ifa_index = ifindex;
	ifa->ifa_flags = family == AF_INET6 ? IFA_F_NODAD : 0;
	mnl_attr_put(nlh, IFA_LOCAL, family == AF_INET ? 4 : 16, a);
	mnl_attr_put(nlh, IFA_ADDRESS, family == AF_INET ? 4 : 16, a);
	return nt_nl_xfer(s, nlh, ack, NULL, NULL);
}

/* A permanent neighbour entry: nothing waits on ARP or ND. */
NT_FN int nt_neigh_add(struct nt_nl *s, uint32_t ifindex, int family,
		       const char *addr, const uint8_t *mac, struct nt_ack *ack)
{
	struct ndmsg *nd;
	struct nlmsghdr *nlh;
	unsigned char a[16];

	if (inet_pton(family, addr, a) != 1)
		return -EINVAL;
	nlh = nt_rt_msg(s, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE,
			sizeof(*nd), (void **)&nd);
	nd->ndm_family = (uint8_t)family;
	nd->ndm_ifindex = (int)ifindex;
	nd->ndm_state = NUD_PERMANENT;
	mnl_attr_put(nlh, NDA_DST, family == AF_INET ? 4 : 16, a);
	mnl_attr_put(nlh, NDA_LLADDR, 6, mac);
	return nt_nl_xfer(s, nlh, ack, NULL, NULL);
}

/*
 * RTM_NEWQDISC at the root of ifindex. nlflags: NLM_F_CREATE|NLM_F_EXCL
 * (add), 0 (change), NLM_F_CREATE|NLM_F_REPLACE (replace). opt/optlen:
 * TCA_OPTIONS payload as is (sch_plug's struct), or NULL.
 */
NT_FN int nt_qdisc_msg(struct nt_nl *s, uint32_t ifindex, const char *kind,
		       uint16_t nlflags, const void *opt, size_t optlen,
		       struct nt_ack *ack)
{
	struct tcmsg *tc;
	struct nlmsghdr *nlh;

	nlh = nt_rt_msg(s, RTM_NEWQDISC, nlflags, sizeof(*tc), (void **)&tc);
	tc->tcm_family = AF_UNSPEC;
	tc->tcm_ifindex = (int)ifindex;
	tc->tcm_parent = TC_H_ROOT;
	tc->tcm_handle = 0;
	mnl_attr_put_strz(nlh, TCA_KIND, kind);
	if (opt)
		mnl_attr_put(nlh, TCA_OPTIONS, optlen, opt);
	return nt_nl_xfer(s, nlh, ack, NULL, NULL);
}

NT_FN int nt_qdisc_add(struct nt_nl *s, uint32_t ifindex, const char *kind,
		       struct nt_ack *ack)
{
	return nt_qdisc_msg(s, ifindex, kind, NLM_F_CREATE | NLM_F_EXCL,
			    NULL, 0, ack);
}

/* The remus qdisc's TCA_OPTIONS (negative: left out). */
NT_FN int nt_qdisc_remus(struct nt_nl *s, uint32_t ifindex, uint16_t nlflags,
			 int64_t limit_pkts, int64_t limit_bytes, int64_t mode,
			 bool nested_flag, struct nt_ack *ack)
{
	struct tcmsg *tc;
	struct nlmsghdr *nlh;
	struct nlattr *o;

	nlh = nt_rt_msg(s, RTM_NEWQDISC, nlflags, sizeof(*tc), (void **)&tc);
	tc->tcm_family = AF_UNSPEC;
	tc->tcm_ifindex = (int)ifindex;
	tc->tcm_parent = TC_H_ROOT;
	mnl_attr_put_strz(nlh, TCA_KIND, REMUS_QDISC_KIND);
	o = mnl_attr_nest_start(nlh, TCA_OPTIONS);
	if (!nested_flag)
		o->nla_type &= (uint16_t)~NLA_F_NESTED;
	if (limit_pkts >= 0)
		mnl_attr_put_u32(nlh, TCA_REMUS_LIMIT_PKTS, (uint32_t)limit_pkts);
	if (limit_bytes >= 0)
		mnl_attr_put_u64(nlh, TCA_REMUS_LIMIT_BYTES, (uint64_t)limit_bytes);
	if (mode >= 0)
		mnl_attr_put_u32(nlh, TCA_REMUS_MODE, (uint32_t)mode);
	mnl_attr_nest_end(nlh, o);
	return nt_nl_xfer(s, nlh, ack, NULL, NULL);
}

/* sch_plug's one command (TCQ_PLUG_*), as `tc qdisc change ... plug X`. */
NT_FN int nt_plug(struct nt_nl *s, uint32_t ifindex, int action,
		  uint32_t limit, struct nt_ack *ack)
{
	struct tc_plug_qopt q = { .action = action, .limit = limit };

	return nt_qdisc_msg(s, ifindex, "plug", 0, &q, sizeof(q), ack);
}

NT_FN int nt_qdisc_del(struct nt_nl *s, uint32_t ifindex, struct nt_ack *ack)
{
	struct tcmsg *tc;
	struct nlmsghdr *nlh;

	nlh = nt_rt_msg(s, RTM_DELQDISC, 0, sizeof(*tc), (void **)&tc);
	tc->tcm_family = AF_UNSPEC;
	tc->tcm_ifindex = (int)ifindex;
	tc->tcm_parent = TC_H_ROOT;
	return nt_nl_xfer(s, nlh, ack, NULL, NULL);
}

/* The root qdisc of a device as RTM_GETQDISC reports it. */
struct nt_qdisc {
	char kind[32];
	uint32_t handle;
	uint64_t bytes, packets;	/* sent (gnet_stats_basic) */
	struct gnet_stats_queue q;	/* qlen, backlog, drops, requeues, overlimits */
	bool has_app;
	unsigned int app_len;
	union {
		struct tc_remus_xstats remus;
		unsigned char raw[256];
	} app;
	bool has_xstats;		/* the legacy TCA_XSTATS copy */
	unsigned int xstats_len;
	unsigned char xstats[256];
	/* TCA_OPTIONS of a remus qdisc */
	uint32_t opt_seen;
	uint32_t opt_limit_pkts, opt_mode;
	uint64_t opt_limit_bytes, opt_barrier, opt_released;
	unsigned int nroot;		/* root qdiscs seen for the device */
};

NT_FN int nt_qopt_cb(const struct nlattr *a, void *data)
{
	struct nt_qdisc *q = data;
	uint16_t t = mnl_attr_get_type(a);

	if (t > 31)
		return MNL_CB_OK;
	q->opt_seen |= 1u << t;
	switch (t) {
	case TCA_REMUS_LIMIT_PKTS:
		q->opt_limit_pkts = mnl_attr_get_u32(a);
		break;
	case TCA_REMUS_MODE:
		q->opt_mode = mnl_attr_get_u32(a);
		break;
	case TCA_REMUS_LIMIT_BYTES:
		q->opt_limit_bytes = mnl_attr_get_u64(a);
		break;
	case TCA_REMUS_BARRIER:
		q->opt_barrier = mnl_attr_get_u64(a);
		break;
	case TCA_REMUS_RELEASED:
		q->opt_released = mnl_attr_get_u64(a);
		break;
	}
	return MNL_CB_OK;
}

NT_FN int nt_qstats_cb(const struct nlattr *a, void *data)
{
	struct nt_qdisc *q = data;
	unsigned int len = mnl_attr_get_payload_len(a);

	switch (mnl_attr_get_type(a)) {
	case TCA_STATS_BASIC: {
		struct gnet_stats_basic b;

		memcpy(&b, mnl_attr_get_payload(a),
		       len < sizeof(b) ? len : sizeof(b));
		q->bytes = b.bytes;
		if (!q->packets)
			q->packets = b.packets;
		break;
	}
	case TCA_STATS_PKT64:
		q->packets = mnl_attr_get_u64(a);
		break;
	case TCA_STATS_QUEUE:
		memcpy(&q->q, mnl_attr_get_payload(a),
		       len < sizeof(q->q) ? len : sizeof(q->q));
		break;
	case TCA_STATS_APP:
		q->has_app = true;
		q->app_len = len;
		memcpy(q->app.raw, mnl_attr_get_payload(a),
		       len < sizeof(q->app.raw) ? len : sizeof(q->app.raw));
		break;
	}
	return MNL_CB_OK;
}

NT_FN int nt_qdisc_attr_cb(const struct nlattr *a, void *data)
{
	struct nt_qdisc *q = data;
	unsigned int len = mnl_attr_get_payload_len(a);

	switch (mnl_attr_get_type(a)) {
	case TCA_KIND:
		snprintf(q->kind, sizeof(q->kind), "%s", mnl_attr_get_str(a));
		break;
	case TCA_OPTIONS:
		mnl_attr_parse_nested(a, nt_qopt_cb, q);
		break;
	case TCA_STATS2:
		mnl_attr_parse_nested(a, nt_qstats_cb, q);
		break;
	case TCA_XSTATS:
		q->has_xstats = true;
		q->xstats_len = len;
		memcpy(q->xstats, mnl_attr_get_payload(a),
		       len < sizeof(q->xstats) ? len : sizeof(q->xstats));
		break;
	}
	return MNL_CB_OK;
}

struct nt_qdisc_ctx {
	uint32_t ifindex;
	struct nt_qdisc *q;
};

NT_FN int nt_qdisc_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nt_qdisc_ctx *c = data;
	const struct tcmsg *tc = mnl_nlmsg_get_payload(nlh);
	struct nt_qdisc tmp;

	if ((uint32_t)tc->tcm_ifindex != c->ifindex || tc->tcm_parent != TC_H_ROOT)
		return MNL_CB_OK;
	memset(&tmp, 0, sizeof(tmp));
	tmp.handle = tc->tcm_handle;
	tmp.nroot = c->q->nroot + 1;
	mnl_attr_parse(nlh, sizeof(*tc), nt_qdisc_attr_cb, &tmp);
	*c->q = tmp;
	return MNL_CB_OK;
}

/* The root qdisc of ifindex (dumping the namespace's qdiscs). */
NT_FN int nt_qdisc_get(struct nt_nl *s, uint32_t ifindex, struct nt_qdisc *q)
{
	struct nt_qdisc_ctx c = { ifindex, q };
	struct tcmsg *tc;
	struct nlmsghdr *nlh;
	int err;

	memset(q, 0, sizeof(*q));
	nlh = nt_rt_msg(s, RTM_GETQDISC, NLM_F_DUMP, sizeof(*tc), (void **)&tc);
	tc->tcm_family = AF_UNSPEC;
	tc->tcm_ifindex = (int)ifindex;
	err = nt_nl_xfer(s, nlh, NULL, nt_qdisc_cb, &c);
	if (err)
		return err;
	return q->nroot ? 0 : -ENOENT;
}

/* ------------------------------------------------------------------ */
/* namespaces, files, programs                                         */
/* ------------------------------------------------------------------ */

NT_FN int nt_ns_self(void)
{
	return open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
}

/* A new anonymous network namespace; the caller stays where it was. */
NT_FN int nt_ns_new(void)
{
	int self = nt_ns_self(), fd = -1;

	if (self < 0)
		return -errno;
	if (unshare(CLONE_NEWNET) == 0) {
		fd = nt_ns_self();
		if (setns(self, CLONE_NEWNET)) {
			close(self);
			return -errno;
		}
	}
	close(self);
	return fd < 0 ? -errno : fd;
}

NT_FN int nt_ns_enter(int fd)
{
	return setns(fd, CLONE_NEWNET) ? -errno : 0;
}

NT_FN int nt_write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	return n < 0 ? -errno : 0;
}

/* The first line of a file into buf; -errno. */
NT_FN int nt_read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return 0;
}

/* /sys/module/remus/refcnt, or -errno when the module is not loaded. */
NT_FN long nt_module_refcnt(void)
{
	char buf[32];
	int err = nt_read_file("/sys/module/remus/refcnt", buf, sizeof(buf));

	return err ? err : strtol(buf, NULL, 10);
}

/*
 * Run argv in the network namespace nsfd (-1: here), stdout and stderr
 * into out. Returns the exit status, or -errno.
 */
NT_FN int nt_run(int nsfd, char *const argv[], char *out, size_t outlen)
{
	int pfd[2], status;
	size_t got = 0;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		if (nsfd >= 0 && setns(nsfd, CLONE_NEWNET))
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		char tmp[1024];
		ssize_t n = read(pfd[0], tmp, sizeof(tmp));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (out && got + 1 < outlen) {
			size_t k = (size_t)n < outlen - 1 - got ? (size_t)n : outlen - 1 - got;

			memcpy(out + got, tmp, k);
			got += k;
		}
	}
	if (out && outlen)
		out[got] = 0;
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Packets the per-CPU input backlogs dropped (netdev_max_backlog). */
NT_FN unsigned long long nt_softnet_drops(void)
{
	FILE *f = fopen("/proc/net/softnet_stat", "re");
	unsigned long long sum = 0;
	unsigned int processed, dropped;

	if (!f)
		return 0;
	while (fscanf(f, "%x %x%*[^\n]", &processed, &dropped) == 2)
		sum += dropped;
	fclose(f);
	return sum;
}

/*
 * Raise net.core.netdev_max_backlog (a global) so that a large release
 * is not lost in veth's receive path, which is not what is tested.
 * Returns the old value to give back to nt_set_max_backlog().
 */
NT_FN long nt_set_max_backlog(long v)
{
	char buf[32];
	long old = -1;

	if (nt_read_file("/proc/sys/net/core/netdev_max_backlog", buf, sizeof(buf)) == 0)
		old = strtol(buf, NULL, 10);
	if (v > 0) {
		snprintf(buf, sizeof(buf), "%ld", v);
		nt_write_file("/proc/sys/net/core/netdev_max_backlog", buf);
	}
	return old;
}

NT_FN const char *nt_tc_path(void)
{
	const char *tc = getenv("TC");

	return tc && *tc ? tc : "/sbin/tc";
}

/* ------------------------------------------------------------------ */
/* UDP traffic                                                         */
/* ------------------------------------------------------------------ */

#define NT_MAGIC	0x524d5553u	/* "RMUS" */

/* What every test datagram starts with. */
struct nt_dgram {
	uint32_t magic;
	uint32_t epoch;		/* the epoch the sender believed it was in */
	uint32_t seq;		/* global, from 0, one per datagram sent */
	uint32_t len;		/* payload length */
};

/*
 * A UDP socket in namespace ns bound to addr:port (port 0: any), with
 * large buffers: held packets stay charged to their sender's socket.
 */
NT_FN int nt_udp_socket(int ns, const char *addr, uint16_t port,
			bool recverr)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	int self = nt_ns_self(), fd, big = 256 << 20, one = 1;

	if (self < 0)
		return -errno;
	if (nt_ns_enter(ns)) {
		close(self);
		return -errno;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	setns(self, CLONE_NEWNET);
	close(self);
	if (fd < 0)
		return -errno;
	inet_pton(AF_INET, addr, &sin.sin_addr);
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) ||
	    (recverr && setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof(one))) ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin))) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/*
 * Send one datagram of `payload` bytes (>= sizeof(struct nt_dgram)).
 * Returns 0, -ENOBUFS when the qdisc dropped it (the socket has
 * IP_RECVERR), or another -errno.
 */
NT_FN int nt_udp_send(int fd, const char *dst, uint16_t port, uint32_t epoch,
		      uint32_t seq, size_t payload)
{
	static char buf[65536];
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct nt_dgram d = { NT_MAGIC, epoch, seq, (uint32_t)payload };

	if (payload < sizeof(d))
		payload = sizeof(d);
	inet_pton(AF_INET, dst, &sin.sin_addr);
	memcpy(buf, &d, sizeof(d));
	if (sendto(fd, buf, payload, 0, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		return -errno;
	return 0;
}

/*
 * Receive datagrams into out[] until `want` are there or timeout_ms passed
 * without reaching it. Returns how many were read (at most max).
 */
NT_FN unsigned int nt_udp_recv(int fd, struct nt_dgram *out, unsigned int max,
			       unsigned int want, int timeout_ms)
{
	uint64_t end = nt_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	unsigned int n = 0;

	while (n < max) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		char buf[2048];
		int64_t left;
		ssize_t r;

		r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (r >= (ssize_t)sizeof(struct nt_dgram)) {
			memcpy(&out[n++], buf, sizeof(struct nt_dgram));
			continue;
		}
		if (r >= 0) {	/* a runt: record it as garbage */
			memset(&out[n++], 0, sizeof(struct nt_dgram));
			continue;
		}
		if (n >= want)
			break;
		left = (int64_t)(end - nt_now_ns()) / 1000000;
		if (left <= 0)
			break;
		poll(&pfd, 1, (int)left);
	}
	return n;
}

/*
 * Compare what arrived with what was expected, in order. Returns NULL if
 * equal, or a description of the first difference.
 */
NT_FN const char *nt_dgram_diff(const struct nt_dgram *want, unsigned int nwant,
				const struct nt_dgram *got, unsigned int ngot)
{
	static char s[256];
	unsigned int i;

	for (i = 0; i < nwant && i < ngot; i++) {
		if (got[i].magic != NT_MAGIC) {
			snprintf(s, sizeof(s), "datagram %u is not a test datagram", i);
			return s;
		}
		if (got[i].epoch != want[i].epoch || got[i].seq != want[i].seq) {
			snprintf(s, sizeof(s),
				 "datagram %u: expected epoch %u seq %u, got epoch %u seq %u",
				 i, want[i].epoch, want[i].seq, got[i].epoch,
				 got[i].seq);
			return s;
		}
	}
	if (nwant != ngot) {
		snprintf(s, sizeof(s),
			 "expected %u datagrams (%s%u..%u), got %u%s", nwant,
			 nwant ? "seq " : "", nwant ? want[0].seq : 0,
			 nwant ? want[nwant - 1].seq : 0, ngot,
			 ngot > nwant ? " (extra ones were let out)" :
			 " (some held or lost)");
		if (ngot > nwant) {
			size_t l = strlen(s);

			snprintf(s + l, sizeof(s) - l,
				 "; first extra: epoch %u seq %u",
				 got[nwant].epoch, got[nwant].seq);
		}
		return s;
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* two namespaces joined by a veth pair                                */
/* ------------------------------------------------------------------ */

/*
 * ns_a: NT_IF_A (10.77.0.1, the qdisc under test at its root), ns_b:
 * NT_IF_B (10.77.0.2). IPv6 is off in both and the neighbours are
 * permanent, so that the only packets through the qdisc are the test's.
 */
struct nt_pair {
	int ns_a, ns_b;
	struct nt_nl rt_a, rt_b;	/* rtnetlink in each namespace */
	struct nt_nl gn;		/* the remus family, in ns_a */
	uint32_t if_a, if_b;
	int tx, rx;			/* UDP: tx in ns_a, rx in ns_b */
	/* The test's model of the traffic: every datagram sent, in order. */
	struct nt_dgram *sent;
	unsigned int nsent, cap;
	unsigned int nreleased;		/* sent[0..nreleased) were let out */
	struct nt_dgram *got;		/* scratch for the receiver */
};

NT_FN int nt_ns_sysctls(int ns)
{
	int self = nt_ns_self(), err = 0;

	if (self < 0)
		return -errno;
	if (nt_ns_enter(ns)) {
		close(self);
		return -errno;
	}
	if (nt_write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1") ||
	    nt_write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1"))
		err = -errno;
	setns(self, CLONE_NEWNET);
	close(self);
	return err;
}

/* An rtnetlink or genl socket opened inside namespace ns. */
NT_FN int nt_open_in(int ns, struct nt_nl *s, bool genl)
{
	int self = nt_ns_self(), err;

	if (self < 0)
		return -errno;
	if (nt_ns_enter(ns)) {
		close(self);
		return -errno;
	}
	err = genl ? nt_genl_open(s) : nt_nl_open(s, NETLINK_ROUTE);
	setns(self, CLONE_NEWNET);
	close(self);
	return err;
}

#define NT_SETUP_FAIL(step, err) do {					\
	snprintf(why, whylen, "%s: %s", step, strerror(-(err)));	\
	return err;							\
} while (0)

/* Build the pair; root_kind "remus", "plug" or NULL (no qdisc). */
NT_FN int nt_pair_setup(struct nt_pair *p, const char *root_kind, char *why,
			size_t whylen)
{
	struct nt_ack ack;
	int err;

	memset(p, 0, sizeof(*p));
	p->tx = p->rx = -1;
	p->cap = 1 << 17;
	p->sent = calloc(p->cap, sizeof(*p->sent));
	p->got = calloc(p->cap, sizeof(*p->got));
	if (!p->sent || !p->got)
		NT_SETUP_FAIL("calloc", -ENOMEM);
	p->ns_a = nt_ns_new();
	if (p->ns_a < 0)
		NT_SETUP_FAIL("netns a", p->ns_a);
	p->ns_b = nt_ns_new();
	if (p->ns_b < 0)
		NT_SETUP_FAIL("netns b", p->ns_b);
	if ((err = nt_ns_sysctls(p->ns_a)) || (err = nt_ns_sysctls(p->ns_b)))
		NT_SETUP_FAIL("disable_ipv6", err);
	if ((err = nt_open_in(p->ns_a, &p->rt_a, false)) ||
	    (err = nt_open_in(p->ns_b, &p->rt_b, false)))
		NT_SETUP_FAIL("rtnetlink socket", err);
	/* The sch_plug fallback runs without remus.ko. */
	err = nt_open_in(p->ns_a, &p->gn, true);
	if (err && !(root_kind && !strcmp(root_kind, "plug")))
		NT_SETUP_FAIL("remus genl family (module loaded?)", err);

	err = nt_link_add_veth(&p->rt_a, NT_IF_A, nt_mac_a, NT_IF_B, nt_mac_b,
			       p->ns_b, &ack);
	if (err)
		NT_SETUP_FAIL("veth pair", err);
	if ((err = nt_ifindex(&p->rt_a, NT_IF_A)) < 0)
		NT_SETUP_FAIL("ifindex a", err);
	p->if_a = (uint32_t)err;
	if ((err = nt_ifindex(&p->rt_b, NT_IF_B)) < 0)
		NT_SETUP_FAIL("ifindex b", err);
	p->if_b = (uint32_t)err;
	if ((err = nt_addr_add(&p->rt_a, p->if_a, AF_INET, NT_ADDR_A, 24, &ack)) ||
	    (err = nt_addr_add(&p->rt_b, p->if_b, AF_INET, NT_ADDR_B, 24, &ack)))
		NT_SETUP_FAIL("address", err);
	if ((err = nt_neigh_add(&p->rt_a, p->if_a, AF_INET, NT_ADDR_B, nt_mac_b, &ack)) ||
	    (err = nt_neigh_add(&p->rt_b, p->if_b, AF_INET, NT_ADDR_A, nt_mac_a, &ack)))
		NT_SETUP_FAIL("permanent neighbour", err);
	if (root_kind) {
		err = nt_qdisc_add(&p->rt_a, p->if_a, root_kind, &ack);
		if (err) {
			snprintf(why, whylen, "qdisc add root %s: %.200s", root_kind,
				 nt_ack_str(&ack));
			return err;
		}
	}
	if ((err = nt_link_set_up(&p->rt_a, p->if_a, true, &ack)) ||
	    (err = nt_link_set_up(&p->rt_b, p->if_b, true, &ack)))
		NT_SETUP_FAIL("link up", err);
	if ((err = nt_link_wait_up(&p->rt_a, p->if_a, 5000)) ||
	    (err = nt_link_wait_up(&p->rt_b, p->if_b, 5000)))
		NT_SETUP_FAIL("waiting for carrier", err);

	p->tx = nt_udp_socket(p->ns_a, NT_ADDR_A, 0, true);
	if (p->tx < 0)
		NT_SETUP_FAIL("udp sender", p->tx);
	p->rx = nt_udp_socket(p->ns_b, NT_ADDR_B, NT_PORT, false);
	if (p->rx < 0)
		NT_SETUP_FAIL("udp receiver", p->rx);
	return 0;
}

/*
 * Deleting veth0 first frees whatever its qdisc still holds. Held packets
 * keep their sender's socket, and so namespace a, alive: without this a
 * test that ends while buffering would leak its namespace.
 */
NT_FN void nt_pair_teardown(struct nt_pair *p)
{
	if (p->rt_a.nl && p->if_a)
		nt_link_del(&p->rt_a, p->if_a, NULL);
	if (p->tx >= 0)
		close(p->tx);
	if (p->rx >= 0)
		close(p->rx);
	nt_nl_close(&p->gn);
	nt_nl_close(&p->rt_a);
	nt_nl_close(&p->rt_b);
	if (p->ns_a > 0)
		close(p->ns_a);
	if (p->ns_b > 0)
		close(p->ns_b);
	free(p->sent);
	free(p->got);
	p->sent = p->got = NULL;
}

/*
 * Send n datagrams tagged with `epoch` (the test's idea of the open
 * epoch). Those the qdisc refuses (ENOBUFS) are left out of the model
 * and counted in *dropped (may be NULL). Returns 0 or the first other
 * -errno.
 */
NT_FN int nt_pair_send(struct nt_pair *p, uint32_t epoch, unsigned int n,
		       size_t payload, unsigned int *dropped)
{
	static uint32_t seq;
	unsigned int i;

	for (i = 0; i < n; i++) {
		int err = nt_udp_send(p->tx, NT_ADDR_B, NT_PORT, epoch, seq,
				      payload);

		if (err == -ENOBUFS) {
			if (dropped)
				(*dropped)++;
			seq++;
			continue;
		}
		if (err)
			return err;
		if (p->nsent < p->cap)
			p->sent[p->nsent++] = (struct nt_dgram){ NT_MAGIC, epoch, seq,
				(uint32_t)(payload < sizeof(struct nt_dgram) ?
					   sizeof(struct nt_dgram) : payload) };
		seq++;
	}
	return 0;
}

/* Index in sent[] of the first datagram of an epoch > n. */
NT_FN unsigned int nt_pair_prefix(const struct nt_pair *p, uint32_t n)
{
	unsigned int i = p->nreleased;

	while (i < p->nsent && p->sent[i].epoch <= n)
		i++;
	return i;
}

/*
 * Expect exactly sent[nreleased..upto) at the receiver, in order, and
 * then nothing for quiet_ms. Returns NULL or what differed.
 */
NT_FN const char *nt_pair_expect(struct nt_pair *p, unsigned int upto,
				 int timeout_ms, int quiet_ms)
{
	unsigned int want = upto - p->nreleased, got;
	const char *diff;

	got = nt_udp_recv(p->rx, p->got, p->cap, want, timeout_ms);
	if (got == want && quiet_ms > 0)
		got += nt_udp_recv(p->rx, p->got + got, p->cap - got,
				   got + 1, quiet_ms);
	diff = nt_dgram_diff(p->sent + p->nreleased, want, p->got, got);
	if (!diff)
		p->nreleased = upto;
	return diff;
}

#endif /* NETTEST_H */
