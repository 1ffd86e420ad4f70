/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internal interfaces of remus.ko: the generic netlink family (netlink.c),
 * the qdisc (sch_remus.c) and the device-mapper target (dm-remus.c).
 */
#ifndef _REMUS_H
#define _REMUS_H

#include <linux/types.h>
#include <linux/netlink.h>
#include <net/genetlink.h>
#include <uapi/linux/remus.h>

struct Qdisc;
struct net_device;

/*
 * Counters shared by net and disk buffers, reported in REMUS_A_STATS.
 * Net buffers count packets, disk buffers count writes (bios).
 */
struct remus_counters {
	u64 backlog_pkts;
	u64 backlog_bytes;
	u64 queued_pkts;
	u64 queued_bytes;
	u64 released_pkts;
	u64 released_bytes;
	u64 overlimit_pkts;
	u64 overlimit_bytes;
	u64 discarded_pkts;
	u64 discarded_bytes;
	u64 barriers;
	u64 releases;
	u64 passed_pkts;
	u64 passed_bytes;
	u64 log_waits;
};

/* One epoch that holds output, for REMUS_F_EPOCHS replies. */
struct remus_epoch_backlog {
	u64 epoch;
	u32 pkts;
	u64 bytes;
};

/* A consistent snapshot of a buffer, taken under its lock. */
struct remus_state {
	u64 barrier;
	u64 released;
	u64 limit_bytes;
	u32 limit_pkts;
	u32 mode;
	struct remus_counters c;
	unsigned int nr_epochs;		/* entries filled in epochs[] */
	struct remus_epoch_backlog *epochs;	/* caller's, or NULL */
	unsigned int max_epochs;
};

/*
 * Epoch rules, shared by every buffer (see the uapi header). They return 0
 * or -EINVAL with an extack message naming the attribute.
 */
int remus_epoch_check_barrier(u64 barrier, u64 n, const struct nlattr *attr,
			      struct netlink_ext_ack *extack);
int remus_epoch_check_release(u64 barrier, u64 n, const struct nlattr *attr,
			      struct netlink_ext_ack *extack);

/* A required attribute: its type in the extack, and a message (literal). */
#define REMUS_NL_REQUIRE(info, type, msg) ({				\
	struct genl_info *__rinfo = (info);				\
	bool __missing = GENL_REQ_ATTR_CHECK(__rinfo, type);		\
									\
	if (__missing)							\
		NL_SET_ERR_MSG(__rinfo->extack, msg);			\
	__missing;							\
})

/* netlink.c */
extern struct genl_family remus_genl_family;
int remus_nl_init(void);
void remus_nl_exit(void);
int remus_nl_put_stats(struct sk_buff *skb, const struct remus_counters *c);
int remus_nl_put_epochs(struct sk_buff *skb, const struct remus_state *st);
int remus_nl_put_state(struct sk_buff *skb, const struct remus_state *st);
u32 remus_nl_flags(struct nlattr **attrs);
void remus_nl_event_net(enum remus_event ev, struct net_device *dev,
			u64 epoch, const struct remus_counters *c, gfp_t gfp);
void remus_nl_event_disk(enum remus_event ev, const char *name, u32 devnum,
			 u64 epoch, const struct remus_counters *c, gfp_t gfp);

/* sch_remus.c */
int remus_qdisc_init(void);
void remus_qdisc_exit(void);
bool remus_is_qdisc(const struct Qdisc *sch);
void remus_qdisc_snapshot(struct Qdisc *sch, struct remus_state *st);
int remus_qdisc_barrier(struct Qdisc *sch, u64 epoch,
			const struct nlattr *attr,
			struct netlink_ext_ack *extack);
int remus_qdisc_release(struct Qdisc *sch, u64 epoch,
			const struct nlattr *attr,
			struct netlink_ext_ack *extack);
void remus_qdisc_discard(struct Qdisc *sch);
int remus_qdisc_set(struct Qdisc *sch, const u32 *mode, const u32 *limit_pkts,
		    const u64 *limit_bytes);

/*
 * dm-remus.c: the target and its netlink commands. The handlers parse their
 * own object selector (REMUS_A_DISK_NAME / REMUS_A_DISK_DEV); policies are
 * in netlink.c with the other commands.
 */
int remus_dm_init(void);
void remus_dm_exit(void);
int remus_nl_disk_get_doit(struct sk_buff *skb, struct genl_info *info);
int remus_nl_disk_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb);
int remus_nl_disk_barrier_doit(struct sk_buff *skb, struct genl_info *info);
int remus_nl_disk_commit_doit(struct sk_buff *skb, struct genl_info *info);
int remus_nl_disk_discard_doit(struct sk_buff *skb, struct genl_info *info);
int remus_nl_disk_set_doit(struct sk_buff *skb, struct genl_info *info);

#endif /* _REMUS_H */
