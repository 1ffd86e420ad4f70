// SPDX-License-Identifier: GPL-2.0
/*
 * remus.ko: output buffering for checkpoint replication of guests.
 *
 * The family comes up first, so that the qdisc and the target can send
 * events from their first instance on; each step is undone in reverse.
 * The qdisc and the target pin the module while an instance exists, so
 * unloading is refused until every buffer is gone.
 */
#include <linux/module.h>

#include "remus.h"

static int __init remus_mod_init(void)
{
	int err;

	err = remus_nl_init();
	if (err)
		return err;
	err = remus_qdisc_init();
	if (err)
		goto err_nl;
	err = remus_dm_init();
	if (err)
		goto err_qdisc;
	return 0;

err_qdisc:
	remus_qdisc_exit();
err_nl:
	remus_nl_exit();
	return err;
}

static void __exit remus_mod_exit(void)
{
	remus_dm_exit();
	remus_qdisc_exit();
	remus_nl_exit();
}

module_init(remus_mod_init);
module_exit(remus_mod_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Output buffering for checkpoint replication");
MODULE_ALIAS_GENL_FAMILY(REMUS_GENL_NAME);
