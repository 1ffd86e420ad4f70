// SPDX-License-Identifier: GPL-2.0
/*
 * Misbehaves on purpose, so that the VM harness can prove it notices:
 * action=warn WARNs and fails to load; action=hang spins with interrupts
 * off, freezing a one-CPU VM for good.
 */
#include <linux/irqflags.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/string.h>

static char *action = "warn";
module_param(action, charp, 0444);
MODULE_PARM_DESC(action, "warn or hang");

static int __init harness_ksft_init(void)
{
	if (!strcmp(action, "warn")) {
		WARN(1, "remus harness self-test: deliberate warning\n");
		return -EAGAIN;
	}
	if (!strcmp(action, "hang")) {
		local_irq_disable();
		for (;;)
			cpu_relax();
	}
	return -EINVAL;
}
module_init(harness_ksft_init);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("remus VM harness self-test: deliberate kernel faults");
