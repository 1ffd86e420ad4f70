// SPDX-License-Identifier: GPL-2.0
/* Placeholder until the disk target's CLI lands. */
#include <stdio.h>
#include <stdlib.h>

#include "remusctl.h"

int ctl_disk(struct ctl *c, int argc, char **argv)
{
	fprintf(stderr, "%s: disk: not available in this build\n", c->prog);
	return EXIT_FAILURE;
}
