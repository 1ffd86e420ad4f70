// SPDX-License-Identifier: GPL-2.0
/*
 * The disk commands of the `remus` family (policies in netlink.c, rules in
 * include/uapi/linux/remus.h). They run without pre_doit: each looks its
 * disk up by REMUS_A_DISK_NAME or REMUS_A_DISK_DEV, holds a reference for
 * the command, and the disk refuses commands once its target is gone.
 */
#include <linux/slab.h>
#include <net/genetlink.h>

#include "dm-remus.h"

static struct remus_disk *remus_nl_disk(struct genl_info *info)
{
	struct nlattr *name = info->attrs[REMUS_A_DISK_NAME];
	struct nlattr *dev = info->attrs[REMUS_A_DISK_DEV];
	struct remus_disk *d;

	if (name && dev) {
		NL_SET_ERR_MSG_ATTR(info->extack, dev,
				    "give the disk by name or by device number, not both");
		return ERR_PTR(-EINVAL);
	}
	if (!name && !dev) {
		NL_SET_ERR_MSG(info->extack,
			       "missing disk (name or device number)");
		NL_SET_ERR_ATTR_MISS(info->extack, NULL, REMUS_A_DISK_NAME);
		return ERR_PTR(-EINVAL);
	}
	d = name ? remus_disk_get_by_name(nla_data(name)) :
		   remus_disk_get_by_dev(nla_get_u32(dev));
	if (!d) {
		NL_SET_ERR_MSG_ATTR(info->extack, name ?: dev,
				    "no such remus disk");
		return ERR_PTR(-ENODEV);
	}
	return d;
}

static int remus_nl_fill_disk(struct sk_buff *skb, struct remus_disk *d,
			      u32 flags, struct remus_epoch_backlog *epochs,
			      char *name)
{
	struct remus_state st = {
		.epochs = (flags & REMUS_F_EPOCHS) ? epochs : NULL,
		.max_epochs = REMUS_EPOCHS_MAX,
	};
	u32 dmode, waiting;
	u64 used, errors;

	remus_disk_snapshot(d, &st, &dmode, &used, &waiting, &errors, name);
	if (nla_put_string(skb, REMUS_A_DISK_NAME, name) ||
	    nla_put_u32(skb, REMUS_A_DISK_DEV, d->devnum) ||
	    nla_put_u32(skb, REMUS_A_DISK_MODE, dmode) ||
	    nla_put_u64_64bit(skb, REMUS_A_DISK_USED_BYTES, used,
			      REMUS_A_PAD) ||
	    nla_put_u32(skb, REMUS_A_DISK_WAITING, waiting) ||
	    nla_put_u64_64bit(skb, REMUS_A_DISK_ERRORS, errors, REMUS_A_PAD) ||
	    nla_put_u64_64bit(skb, REMUS_A_DISK_SECTORS, d->sectors,
			      REMUS_A_PAD))
		return -EMSGSIZE;
	return remus_nl_put_state(skb, &st);
}

/* Room for a reply: the epochs array and a name, off the stack. */
struct remus_nl_scratch {
	struct remus_epoch_backlog epochs[REMUS_EPOCHS_MAX];
	char name[DM_NAME_LEN];
};

int remus_nl_disk_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	u32 flags = remus_nl_flags(info->attrs);
	struct remus_nl_scratch *scr;
	struct remus_disk *d;
	struct sk_buff *msg;
	void *hdr;
	int err;

	d = remus_nl_disk(info);
	if (IS_ERR(d))
		return PTR_ERR(d);
	err = -ENOMEM;
	scr = kmalloc(sizeof(*scr), GFP_KERNEL);
	if (!scr)
		goto out;
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		goto out;
	hdr = genlmsg_put_reply(msg, info, &remus_genl_family, 0,
				REMUS_CMD_DISK_GET);
	if (!hdr)
		goto err_free;
	err = remus_nl_fill_disk(msg, d, flags, scr->epochs, scr->name);
	if (err)
		goto err_free;
	genlmsg_end(msg, hdr);
	err = genlmsg_reply(msg, info);
	goto out;

err_free:
	nlmsg_free(msg);
out:
	kfree(scr);
	remus_disk_put(d);
	return err;
}

int remus_nl_disk_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	const struct genl_dumpit_info *info = genl_dumpit_info(cb);
	u32 flags = remus_nl_flags(info->attrs);
	struct remus_nl_scratch *scr;
	long idx = cb->args[0];
	struct remus_disk *d;
	int err = 0;

	scr = kmalloc(sizeof(*scr), GFP_KERNEL);
	if (!scr)
		return -ENOMEM;
	while ((d = remus_disk_get_nth(idx))) {
		void *hdr;

		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
				  cb->nlh->nlmsg_seq, &remus_genl_family,
				  NLM_F_MULTI, REMUS_CMD_DISK_GET);
		if (!hdr) {
			err = -EMSGSIZE;
		} else {
			err = remus_nl_fill_disk(skb, d, flags, scr->epochs,
						 scr->name);
			if (err)
				genlmsg_cancel(skb, hdr);
			else
				genlmsg_end(skb, hdr);
		}
		remus_disk_put(d);
		if (err)
			break;
		idx++;
	}
	kfree(scr);
	cb->args[0] = idx;

	/* An entry that does not fit an empty message never will. */
	if (err && !skb->len)
		return err;
	return skb->len;
}

int remus_nl_disk_barrier_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *epoch = info->attrs[REMUS_A_EPOCH];
	struct remus_disk *d;
	int err;

	if (REMUS_NL_REQUIRE(info, REMUS_A_EPOCH, "missing epoch"))
		return -EINVAL;
	d = remus_nl_disk(info);
	if (IS_ERR(d))
		return PTR_ERR(d);
	err = remus_disk_barrier(d, nla_get_u64(epoch), epoch, info->extack);
	remus_disk_put(d);
	return err;
}

int remus_nl_disk_commit_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *epoch = info->attrs[REMUS_A_EPOCH];
	struct remus_disk *d;
	int err;

	if (REMUS_NL_REQUIRE(info, REMUS_A_EPOCH, "missing epoch"))
		return -EINVAL;
	d = remus_nl_disk(info);
	if (IS_ERR(d))
		return PTR_ERR(d);
	err = remus_disk_commit(d, nla_get_u64(epoch), epoch, info->extack);
	remus_disk_put(d);
	return err;
}

int remus_nl_disk_discard_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct remus_disk *d = remus_nl_disk(info);
	int err;

	if (IS_ERR(d))
		return PTR_ERR(d);
	err = remus_disk_discard(d, info->extack);
	remus_disk_put(d);
	return err;
}

int remus_nl_disk_set_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr **a = info->attrs;
	struct remus_disk *d;
	u32 mode, dmode;
	u64 limit;
	int err;

	if (!a[REMUS_A_MODE] && !a[REMUS_A_LIMIT_BYTES] &&
	    !a[REMUS_A_DISK_MODE]) {
		NL_SET_ERR_MSG(info->extack,
			       "nothing to set: give a mode, a disk mode or a limit");
		NL_SET_ERR_ATTR_MISS(info->extack, NULL, REMUS_A_MODE);
		return -EINVAL;
	}
	d = remus_nl_disk(info);
	if (IS_ERR(d))
		return PTR_ERR(d);
	if (a[REMUS_A_MODE])
		mode = nla_get_u32(a[REMUS_A_MODE]);
	if (a[REMUS_A_LIMIT_BYTES])
		limit = nla_get_u64(a[REMUS_A_LIMIT_BYTES]);
	if (a[REMUS_A_DISK_MODE])
		dmode = nla_get_u32(a[REMUS_A_DISK_MODE]);
	err = remus_disk_set(d, a[REMUS_A_MODE] ? &mode : NULL,
			     a[REMUS_A_LIMIT_BYTES] ? &limit : NULL,
			     a[REMUS_A_DISK_MODE] ? &dmode : NULL,
			     info->extack);
	remus_disk_put(d);
	return err;
}
