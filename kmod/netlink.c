// SPDX-License-Identifier: GPL-2.0
/*
 * The `remus` generic netlink family: control of the net and disk buffers,
 * and their events. The commands, their attributes and their rules are
 * specified in include/uapi/linux/remus.h.
 *
 * Each command has its own strict policy (per-op policies; this kernel
 * predates split ops): an attribute a command does not take is rejected
 * with an extack pointing at it. Net commands run under RTNL, taken in
 * pre_doit together with the lookup of the device and its qdisc, and
 * dropped in post_doit.
 */
#include <linux/dm-ioctl.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/rtnetlink.h>
#include <net/genetlink.h>
#include <net/sock.h>
#include <net/sch_generic.h>

#include "remus.h"

enum remus_mcgrp {
	REMUS_MCGRP_EVENTS,
};

static const struct genl_multicast_group remus_mcgrps[] = {
	[REMUS_MCGRP_EVENTS] = { .name = REMUS_GENL_MCGRP_EVENTS },
};

/* internal_flags of net commands: look the qdisc up in pre_doit. */
#define REMUS_NL_NET_QDISC	BIT(0)

#define REMUS_NET_SELECTOR						\
	[REMUS_A_IFINDEX]	= NLA_POLICY_MIN(NLA_U32, 1),		\
	[REMUS_A_IFNAME]	= { .type = NLA_NUL_STRING,		\
				    .len = IFNAMSIZ - 1 }

#define REMUS_DISK_SELECTOR						\
	[REMUS_A_DISK_NAME]	= { .type = NLA_NUL_STRING,		\
				    .len = DM_NAME_LEN - 1 },		\
	[REMUS_A_DISK_DEV]	= { .type = NLA_U32 }

static const struct nla_policy remus_net_get_policy[REMUS_A_MAX + 1] = {
	REMUS_NET_SELECTOR,
	[REMUS_A_FLAGS]		= NLA_POLICY_MASK(NLA_U32, REMUS_F_GET_MASK),
};

static const struct nla_policy remus_net_epoch_policy[REMUS_A_MAX + 1] = {
	REMUS_NET_SELECTOR,
	[REMUS_A_EPOCH]		= { .type = NLA_U64 },
};

static const struct nla_policy remus_net_discard_policy[REMUS_A_MAX + 1] = {
	REMUS_NET_SELECTOR,
};

static const struct nla_policy remus_net_set_policy[REMUS_A_MAX + 1] = {
	REMUS_NET_SELECTOR,
	[REMUS_A_MODE]		= NLA_POLICY_MAX(NLA_U32, REMUS_MODE_MAX),
	[REMUS_A_LIMIT_PKTS]	= NLA_POLICY_MIN(NLA_U32, 1),
	[REMUS_A_LIMIT_BYTES]	= NLA_POLICY_MIN(NLA_U64, 1),
};

static const struct nla_policy remus_disk_get_policy[REMUS_A_MAX + 1] = {
	REMUS_DISK_SELECTOR,
	[REMUS_A_FLAGS]		= NLA_POLICY_MASK(NLA_U32, REMUS_F_GET_MASK),
};

static const struct nla_policy remus_disk_epoch_policy[REMUS_A_MAX + 1] = {
	REMUS_DISK_SELECTOR,
	[REMUS_A_EPOCH]		= { .type = NLA_U64 },
};

static const struct nla_policy remus_disk_discard_policy[REMUS_A_MAX + 1] = {
	REMUS_DISK_SELECTOR,
};

static const struct nla_policy remus_disk_set_policy[REMUS_A_MAX + 1] = {
	REMUS_DISK_SELECTOR,
	[REMUS_A_MODE]		= NLA_POLICY_MAX(NLA_U32, REMUS_MODE_MAX),
	[REMUS_A_LIMIT_BYTES]	= NLA_POLICY_MIN(NLA_U64, 1),
	[REMUS_A_DISK_MODE]	= NLA_POLICY_MAX(NLA_U32, REMUS_DISK_MAX),
};

int remus_epoch_check_barrier(u64 barrier, u64 n, const struct nlattr *attr,
			      struct netlink_ext_ack *extack)
{
	if (n <= barrier) {
		NL_SET_ERR_MSG_ATTR(extack, attr,
				    "barrier epoch must be above the last barrier");
		return -EINVAL;
	}
	/* U64_MAX labels what no barrier closed yet. */
	if (n == U64_MAX) {
		NL_SET_ERR_MSG_ATTR(extack, attr, "barrier epoch out of range");
		return -ERANGE;
	}
	return 0;
}

int remus_epoch_check_release(u64 barrier, u64 n, const struct nlattr *attr,
			      struct netlink_ext_ack *extack)
{
	if (n > barrier) {
		NL_SET_ERR_MSG_ATTR(extack, attr,
				    "epoch is still open: no barrier closed it");
		return -EINVAL;
	}
	return 0;
}

/*
 * The device a net command names, in the caller's namespace. *selp gets the
 * attribute that named it, for the extack of later errors. Under RTNL.
 */
static struct net_device *remus_nl_dev(struct genl_info *info,
				       struct nlattr **selp)
{
	struct nlattr *idx = info->attrs[REMUS_A_IFINDEX];
	struct nlattr *name = info->attrs[REMUS_A_IFNAME];
	struct net *net = genl_info_net(info);
	struct net_device *dev;

	if (idx && name) {
		NL_SET_ERR_MSG_ATTR(info->extack, name,
				    "give the interface by index or by name, not both");
		return ERR_PTR(-EINVAL);
	}
	if (idx) {
		dev = __dev_get_by_index(net, nla_get_u32(idx));
		*selp = idx;
	} else if (name) {
		dev = __dev_get_by_name(net, nla_data(name));
		*selp = name;
	} else {
		NL_SET_ERR_MSG(info->extack, "missing interface (index or name)");
		NL_SET_ERR_ATTR_MISS(info->extack, NULL, REMUS_A_IFINDEX);
		return ERR_PTR(-EINVAL);
	}
	if (!dev) {
		NL_SET_ERR_MSG_ATTR(info->extack, *selp, "no such interface");
		return ERR_PTR(-ENODEV);
	}
	return dev;
}

static struct Qdisc *remus_dev_qdisc(struct net_device *dev)
{
	struct Qdisc *sch = rtnl_dereference(dev->qdisc);

	return sch && remus_is_qdisc(sch) ? sch : NULL;
}

static int remus_nl_pre_doit(const struct genl_ops *ops, struct sk_buff *skb,
			     struct genl_info *info)
{
	struct net_device *dev;
	struct nlattr *sel = NULL;
	struct Qdisc *sch;

	if (!(ops->internal_flags & REMUS_NL_NET_QDISC))
		return 0;

	rtnl_lock();
	dev = remus_nl_dev(info, &sel);
	if (IS_ERR(dev)) {
		rtnl_unlock();
		return PTR_ERR(dev);
	}
	sch = remus_dev_qdisc(dev);
	if (!sch) {
		NL_SET_ERR_MSG_ATTR(info->extack, sel,
				    "interface has no remus root qdisc");
		rtnl_unlock();
		return -ENOENT;
	}
	info->user_ptr[0] = dev;
	info->user_ptr[1] = sch;
	return 0;
}

static void remus_nl_post_doit(const struct genl_ops *ops, struct sk_buff *skb,
			       struct genl_info *info)
{
	if (ops->internal_flags & REMUS_NL_NET_QDISC)
		rtnl_unlock();
}

int remus_nl_put_stats(struct sk_buff *skb, const struct remus_counters *c)
{
	static const struct {
		int type;
		size_t off;
	} f[] = {
#define F(t, m) { REMUS_STATS_A_##t, offsetof(struct remus_counters, m) }
		F(BACKLOG_PKTS, backlog_pkts),
		F(BACKLOG_BYTES, backlog_bytes),
		F(QUEUED_PKTS, queued_pkts),
		F(QUEUED_BYTES, queued_bytes),
		F(RELEASED_PKTS, released_pkts),
		F(RELEASED_BYTES, released_bytes),
		F(OVERLIMIT_PKTS, overlimit_pkts),
		F(OVERLIMIT_BYTES, overlimit_bytes),
		F(DISCARDED_PKTS, discarded_pkts),
		F(DISCARDED_BYTES, discarded_bytes),
		F(BARRIERS, barriers),
		F(RELEASES, releases),
		F(PASSED_PKTS, passed_pkts),
		F(PASSED_BYTES, passed_bytes),
		F(LOG_WAITS, log_waits),
#undef F
	};
	struct nlattr *nest;
	unsigned int i;

	nest = nla_nest_start(skb, REMUS_A_STATS);
	if (!nest)
		return -EMSGSIZE;
	for (i = 0; i < ARRAY_SIZE(f); i++) {
		u64 v = *(const u64 *)((const char *)c + f[i].off);

		if (nla_put_u64_64bit(skb, f[i].type, v, REMUS_STATS_A_PAD)) {
			nla_nest_cancel(skb, nest);
			return -EMSGSIZE;
		}
	}
	nla_nest_end(skb, nest);
	return 0;
}

int remus_nl_put_epochs(struct sk_buff *skb, const struct remus_state *st)
{
	unsigned int i;

	for (i = 0; i < st->nr_epochs; i++) {
		const struct remus_epoch_backlog *ep = &st->epochs[i];
		struct nlattr *nest = nla_nest_start(skb, REMUS_A_EPOCH);

		if (!nest)
			return -EMSGSIZE;
		if (nla_put_u64_64bit(skb, REMUS_EPOCH_A_EPOCH, ep->epoch,
				      REMUS_EPOCH_A_PAD) ||
		    nla_put_u32(skb, REMUS_EPOCH_A_PKTS, ep->pkts) ||
		    nla_put_u64_64bit(skb, REMUS_EPOCH_A_BYTES, ep->bytes,
				      REMUS_EPOCH_A_PAD)) {
			nla_nest_cancel(skb, nest);
			return -EMSGSIZE;
		}
		nla_nest_end(skb, nest);
	}
	return 0;
}

/* What every buffer reports in GET: mode, epochs, limit, counters. */
int remus_nl_put_state(struct sk_buff *skb, const struct remus_state *st)
{
	if (nla_put_u32(skb, REMUS_A_MODE, st->mode) ||
	    nla_put_u64_64bit(skb, REMUS_A_BARRIER, st->barrier, REMUS_A_PAD) ||
	    nla_put_u64_64bit(skb, REMUS_A_RELEASED, st->released,
			      REMUS_A_PAD) ||
	    nla_put_u64_64bit(skb, REMUS_A_LIMIT_BYTES, st->limit_bytes,
			      REMUS_A_PAD) ||
	    remus_nl_put_stats(skb, &st->c) ||
	    remus_nl_put_epochs(skb, st))
		return -EMSGSIZE;
	return 0;
}

static int remus_nl_fill_net(struct sk_buff *skb, struct net_device *dev,
			     struct Qdisc *sch, u32 flags,
			     struct remus_epoch_backlog *epochs)
{
	struct remus_state st = {
		.epochs = (flags & REMUS_F_EPOCHS) ? epochs : NULL,
		.max_epochs = REMUS_EPOCHS_MAX,
	};

	remus_qdisc_snapshot(sch, &st);
	if (nla_put_u32(skb, REMUS_A_IFINDEX, dev->ifindex) ||
	    nla_put_string(skb, REMUS_A_IFNAME, dev->name) ||
	    nla_put_u32(skb, REMUS_A_LIMIT_PKTS, st.limit_pkts))
		return -EMSGSIZE;
	return remus_nl_put_state(skb, &st);
}

u32 remus_nl_flags(struct nlattr **attrs)
{
	return attrs[REMUS_A_FLAGS] ? nla_get_u32(attrs[REMUS_A_FLAGS]) : 0;
}

static int remus_nl_net_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct remus_epoch_backlog *epochs = NULL;
	u32 flags = remus_nl_flags(info->attrs);
	struct sk_buff *msg;
	void *hdr;
	int err;

	if (flags & REMUS_F_EPOCHS) {
		epochs = kmalloc_array(REMUS_EPOCHS_MAX, sizeof(*epochs),
				       GFP_KERNEL);
		if (!epochs)
			return -ENOMEM;
	}
	err = -ENOMEM;
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		goto out;
	hdr = genlmsg_put_reply(msg, info, &remus_genl_family, 0,
				REMUS_CMD_NET_GET);
	if (!hdr)
		goto err_free;
	err = remus_nl_fill_net(msg, info->user_ptr[0], info->user_ptr[1],
				flags, epochs);
	if (err)
		goto err_free;
	genlmsg_end(msg, hdr);
	err = genlmsg_reply(msg, info);
	goto out;

err_free:
	nlmsg_free(msg);
out:
	kfree(epochs);
	return err;
}

static int remus_nl_net_get_dumpit(struct sk_buff *skb,
				   struct netlink_callback *cb)
{
	const struct genl_dumpit_info *info = genl_dumpit_info(cb);
	u32 flags = remus_nl_flags(info->attrs);
	struct remus_epoch_backlog *epochs = NULL;
	struct net *net = sock_net(skb->sk);
	long idx = 0, start = cb->args[0];
	struct net_device *dev;
	int err = 0;

	if (flags & REMUS_F_EPOCHS) {
		epochs = kmalloc_array(REMUS_EPOCHS_MAX, sizeof(*epochs),
				       GFP_KERNEL);
		if (!epochs)
			return -ENOMEM;
	}

	rtnl_lock();
	for_each_netdev(net, dev) {
		struct Qdisc *sch = remus_dev_qdisc(dev);
		void *hdr;

		if (!sch)
			continue;
		if (idx < start) {
			idx++;
			continue;
		}
		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
				  cb->nlh->nlmsg_seq, &remus_genl_family,
				  NLM_F_MULTI, REMUS_CMD_NET_GET);
		if (!hdr) {
			err = -EMSGSIZE;
			break;
		}
		err = remus_nl_fill_net(skb, dev, sch, flags, epochs);
		if (err) {
			genlmsg_cancel(skb, hdr);
			break;
		}
		genlmsg_end(skb, hdr);
		idx++;
	}
	rtnl_unlock();
	kfree(epochs);
	cb->args[0] = idx;

	/* An entry that does not fit an empty message never will. */
	if (err && !skb->len)
		return err;
	return skb->len;
}

static int remus_nl_net_barrier_doit(struct sk_buff *skb,
				     struct genl_info *info)
{
	struct nlattr *epoch = info->attrs[REMUS_A_EPOCH];

	if (REMUS_NL_REQUIRE(info, REMUS_A_EPOCH, "missing epoch"))
		return -EINVAL;
	return remus_qdisc_barrier(info->user_ptr[1], nla_get_u64(epoch),
				   epoch, info->extack);
}

static int remus_nl_net_release_doit(struct sk_buff *skb,
				     struct genl_info *info)
{
	struct nlattr *epoch = info->attrs[REMUS_A_EPOCH];

	if (REMUS_NL_REQUIRE(info, REMUS_A_EPOCH, "missing epoch"))
		return -EINVAL;
	return remus_qdisc_release(info->user_ptr[1], nla_get_u64(epoch),
				   epoch, info->extack);
}

static int remus_nl_net_discard_doit(struct sk_buff *skb,
				     struct genl_info *info)
{
	remus_qdisc_discard(info->user_ptr[1]);
	return 0;
}

static int remus_nl_net_set_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr **a = info->attrs;
	u32 mode, pkts;
	u64 bytes;

	if (!a[REMUS_A_MODE] && !a[REMUS_A_LIMIT_PKTS] &&
	    !a[REMUS_A_LIMIT_BYTES]) {
		NL_SET_ERR_MSG(info->extack,
			       "nothing to set: give a mode or a limit");
		NL_SET_ERR_ATTR_MISS(info->extack, NULL, REMUS_A_MODE);
		return -EINVAL;
	}
	if (a[REMUS_A_MODE])
		mode = nla_get_u32(a[REMUS_A_MODE]);
	if (a[REMUS_A_LIMIT_PKTS])
		pkts = nla_get_u32(a[REMUS_A_LIMIT_PKTS]);
	if (a[REMUS_A_LIMIT_BYTES])
		bytes = nla_get_u64(a[REMUS_A_LIMIT_BYTES]);
	return remus_qdisc_set(info->user_ptr[1],
			       a[REMUS_A_MODE] ? &mode : NULL,
			       a[REMUS_A_LIMIT_PKTS] ? &pkts : NULL,
			       a[REMUS_A_LIMIT_BYTES] ? &bytes : NULL);
}

#define REMUS_OP(_cmd, _policy, _flags, _internal, _doit)		\
	{								\
		.cmd = REMUS_CMD_##_cmd,				\
		.doit = _doit,						\
		.policy = _policy,					\
		.maxattr = REMUS_A_MAX,					\
		.flags = _flags,					\
		.internal_flags = _internal,				\
	}

static const struct genl_ops remus_genl_ops[] = {
	{
		.cmd = REMUS_CMD_NET_GET,
		.doit = remus_nl_net_get_doit,
		.dumpit = remus_nl_net_get_dumpit,
		.policy = remus_net_get_policy,
		.maxattr = REMUS_A_MAX,
		.internal_flags = REMUS_NL_NET_QDISC,
	},
	REMUS_OP(NET_BARRIER, remus_net_epoch_policy, GENL_ADMIN_PERM,
		 REMUS_NL_NET_QDISC, remus_nl_net_barrier_doit),
	REMUS_OP(NET_RELEASE, remus_net_epoch_policy, GENL_ADMIN_PERM,
		 REMUS_NL_NET_QDISC, remus_nl_net_release_doit),
	REMUS_OP(NET_DISCARD, remus_net_discard_policy, GENL_ADMIN_PERM,
		 REMUS_NL_NET_QDISC, remus_nl_net_discard_doit),
	REMUS_OP(NET_SET, remus_net_set_policy, GENL_ADMIN_PERM,
		 REMUS_NL_NET_QDISC, remus_nl_net_set_doit),
	{
		.cmd = REMUS_CMD_DISK_GET,
		.doit = remus_nl_disk_get_doit,
		.dumpit = remus_nl_disk_get_dumpit,
		.policy = remus_disk_get_policy,
		.maxattr = REMUS_A_MAX,
	},
	REMUS_OP(DISK_BARRIER, remus_disk_epoch_policy, GENL_ADMIN_PERM, 0,
		 remus_nl_disk_barrier_doit),
	REMUS_OP(DISK_COMMIT, remus_disk_epoch_policy, GENL_ADMIN_PERM, 0,
		 remus_nl_disk_commit_doit),
	REMUS_OP(DISK_DISCARD, remus_disk_discard_policy, GENL_ADMIN_PERM, 0,
		 remus_nl_disk_discard_doit),
	REMUS_OP(DISK_SET, remus_disk_set_policy, GENL_ADMIN_PERM, 0,
		 remus_nl_disk_set_doit),
};

struct genl_family remus_genl_family __ro_after_init = {
	.name		= REMUS_GENL_NAME,
	.version	= REMUS_GENL_VERSION,
	.maxattr	= REMUS_A_MAX,
	.netnsok	= true,
	.pre_doit	= remus_nl_pre_doit,
	.post_doit	= remus_nl_post_doit,
	.module		= THIS_MODULE,
	.ops		= remus_genl_ops,
	.n_ops		= ARRAY_SIZE(remus_genl_ops),
	.resv_start_op	= REMUS_CMD_MAX + 1,
	.mcgrps		= remus_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(remus_mcgrps),
};

static struct sk_buff *remus_event_new(enum remus_event ev, gfp_t gfp,
				       void **hdr)
{
	struct sk_buff *msg = genlmsg_new(NLMSG_GOODSIZE, gfp);

	if (!msg)
		return NULL;
	*hdr = genlmsg_put(msg, 0, 0, &remus_genl_family, 0, REMUS_CMD_EVENT);
	if (!*hdr || nla_put_u32(msg, REMUS_A_EVENT, ev)) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

static int remus_event_put_tail(struct sk_buff *msg, u64 epoch,
				const struct remus_counters *c)
{
	if (nla_put_u64_64bit(msg, REMUS_A_EPOCH, epoch, REMUS_A_PAD))
		return -EMSGSIZE;
	return c ? remus_nl_put_stats(msg, c) : 0;
}

/*
 * Events are best effort by nature of multicast; an allocation failure
 * loses one, as a full socket buffer would, and the listener sees the
 * counters move in the next one.
 */
void remus_nl_event_net(enum remus_event ev, struct net_device *dev,
			u64 epoch, const struct remus_counters *c, gfp_t gfp)
{
	struct net *net = dev_net(dev);
	struct sk_buff *msg;
	void *hdr;

	if (!genl_has_listeners(&remus_genl_family, net, REMUS_MCGRP_EVENTS))
		return;
	msg = remus_event_new(ev, gfp, &hdr);
	if (!msg)
		return;
	if (nla_put_u32(msg, REMUS_A_IFINDEX, dev->ifindex) ||
	    nla_put_string(msg, REMUS_A_IFNAME, dev->name) ||
	    remus_event_put_tail(msg, epoch, c)) {
		nlmsg_free(msg);
		return;
	}
	genlmsg_end(msg, hdr);
	genlmsg_multicast_netns(&remus_genl_family, net, msg, 0,
				REMUS_MCGRP_EVENTS, gfp);
}

/* Disks are not per namespace: their events go to the initial one. */
void remus_nl_event_disk(enum remus_event ev, const char *name, u32 devnum,
			 u64 epoch, const struct remus_counters *c, gfp_t gfp)
{
	struct sk_buff *msg;
	void *hdr;

	if (!genl_has_listeners(&remus_genl_family, &init_net,
				REMUS_MCGRP_EVENTS))
		return;
	msg = remus_event_new(ev, gfp, &hdr);
	if (!msg)
		return;
	if (nla_put_string(msg, REMUS_A_DISK_NAME, name) ||
	    nla_put_u32(msg, REMUS_A_DISK_DEV, devnum) ||
	    remus_event_put_tail(msg, epoch, c)) {
		nlmsg_free(msg);
		return;
	}
	genlmsg_end(msg, hdr);
	genlmsg_multicast_netns(&remus_genl_family, &init_net, msg, 0,
				REMUS_MCGRP_EVENTS, gfp);
}

int remus_nl_init(void)
{
	return genl_register_family(&remus_genl_family);
}

void remus_nl_exit(void)
{
	genl_unregister_family(&remus_genl_family);
}
