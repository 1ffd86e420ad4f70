/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libremus: client of the `remus` generic netlink family (libmnl).
 *
 * One struct remus_nl is one netlink socket; it is not thread-safe, so a
 * thread that drives buffers opens its own. Every call returns 0 (or a
 * count) or -errno; when the kernel explained a refusal with an extack,
 * remus_nl_errmsg() returns its text until the next request.
 */
#ifndef REMUS_NL_H
#define REMUS_NL_H

#include <stdbool.h>
#include <stdint.h>
#include <net/if.h>
#include <libmnl/libmnl.h>
#include <linux/remus.h>

#define REMUS_NL_ERRMSG_MAX 256
#define REMUS_DISK_NAME_MAX 128

struct remus_nl {
	struct mnl_socket *sock;
	uint16_t family;		/* resolved family id */
	uint32_t mcgrp_events;		/* resolved group id */
	uint32_t portid;
	uint32_t seq;
	char errmsg[REMUS_NL_ERRMSG_MAX];
	uint32_t err_attr_offset;	/* extack offset of the bad attribute,
					 * from the start of the request, or 0
					 */
	char *buf;			/* MNL_SOCKET_BUFFER_SIZE-ish, owned */
	size_t buf_size;
};

/* REMUS_STATS_A_*, in attribute order. */
struct remus_buf_stats {
	uint64_t backlog_pkts, backlog_bytes;
	uint64_t queued_pkts, queued_bytes;
	uint64_t released_pkts, released_bytes;
	uint64_t overlimit_pkts, overlimit_bytes;
	uint64_t discarded_pkts, discarded_bytes;
	uint64_t barriers, releases;
	uint64_t passed_pkts, passed_bytes;
	uint64_t log_waits;
};

struct remus_epoch_info {
	uint64_t epoch;
	uint32_t pkts;
	uint64_t bytes;
};

/*
 * A GET reply or an event, net or disk: the fields the message carried,
 * the others zero. has_* says which optional ones were present.
 */
struct remus_buf_info {
	uint8_t cmd;			/* REMUS_CMD_NET_GET, _DISK_GET, _EVENT */
	uint32_t event;			/* enum remus_event, for events */
	uint32_t ifindex;
	char ifname[IF_NAMESIZE];
	char disk_name[REMUS_DISK_NAME_MAX];
	uint32_t disk_dev;
	uint32_t disk_mode;
	uint32_t mode;
	uint64_t barrier, released;
	uint32_t limit_pkts;
	uint64_t limit_bytes;
	uint64_t epoch;			/* events: REMUS_A_EPOCH */
	bool has_epoch, has_stats, has_disk;
	struct remus_buf_stats stats;
	unsigned int nr_epochs;
	struct remus_epoch_info epochs[REMUS_EPOCHS_MAX];
};

int remus_nl_open(struct remus_nl *nl);
void remus_nl_close(struct remus_nl *nl);
const char *remus_nl_errmsg(const struct remus_nl *nl);

/*
 * Low level, for other command sets (disk): start a request in nl->buf,
 * add attributes with mnl_attr_put_*, run it. cb (may be NULL) sees each
 * reply message; it returns MNL_CB_OK, _STOP or _ERROR.
 */
struct nlmsghdr *remus_nl_request(struct remus_nl *nl, uint8_t cmd,
				  uint16_t flags);
int remus_nl_exec(struct remus_nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb,
		  void *data);
/*
 * A dump of cmd: each() gets every message; it returns 0 to go on, > 0 to
 * stop early, or -errno, which ends the dump and is returned.
 */
int remus_nl_dump(struct remus_nl *nl, uint8_t cmd, uint32_t flags,
		  int (*each)(const struct nlmsghdr *nlh, void *data),
		  void *data);
/* Parse a GET reply or an event into *info. */
int remus_nl_parse(const struct nlmsghdr *nlh, struct remus_buf_info *info);

/* Net buffers: the remus root qdisc of ifindex, in this namespace. */
int remus_net_get(struct remus_nl *nl, uint32_t ifindex, uint32_t flags,
		  struct remus_buf_info *info);
typedef int (*remus_buf_cb)(const struct remus_buf_info *info, void *data);
int remus_net_dump(struct remus_nl *nl, uint32_t flags, remus_buf_cb cb,
		   void *data);
int remus_net_barrier(struct remus_nl *nl, uint32_t ifindex, uint64_t epoch);
int remus_net_release(struct remus_nl *nl, uint32_t ifindex, uint64_t epoch);
int remus_net_discard(struct remus_nl *nl, uint32_t ifindex);
int remus_net_set(struct remus_nl *nl, uint32_t ifindex, const uint32_t *mode,
		  const uint32_t *limit_pkts, const uint64_t *limit_bytes);

/*
 * Events. After remus_nl_subscribe() the socket also receives events:
 * poll remus_nl_fd() and call remus_nl_events(), which hands each one to
 * cb. Use a socket of its own for events: replies and events would mix.
 */
int remus_nl_subscribe(struct remus_nl *nl);
int remus_nl_fd(const struct remus_nl *nl);
int remus_nl_events(struct remus_nl *nl, remus_buf_cb cb, void *data);

const char *remus_event_name(uint32_t event);
const char *remus_mode_name(uint32_t mode);
int remus_mode_parse(const char *s, uint32_t *mode);

#endif /* REMUS_NL_H */
