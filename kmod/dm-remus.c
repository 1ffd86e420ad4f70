// SPDX-License-Identifier: GPL-2.0
/* Placeholder until the target lands: refuses every disk command. */
#include <linux/module.h>
#include "remus.h"

int remus_dm_init(void) { return 0; }
void remus_dm_exit(void) { }
#define NOTYET(fn) int fn(struct sk_buff *skb, struct genl_info *info) \
{ NL_SET_ERR_MSG(info->extack, "disk buffers not built"); return -EOPNOTSUPP; }
NOTYET(remus_nl_disk_get_doit)
NOTYET(remus_nl_disk_barrier_doit)
NOTYET(remus_nl_disk_commit_doit)
NOTYET(remus_nl_disk_discard_doit)
NOTYET(remus_nl_disk_set_doit)
int remus_nl_disk_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb) { return 0; }
