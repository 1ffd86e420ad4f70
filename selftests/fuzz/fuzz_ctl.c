// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the daemon's control-socket request parser. It must
 * never read past what it was given, accept only well-formed requests, and
 * consume exactly one line (through its LF) when it accepts one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctlsock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct remus_ctl_req req;
	char *buf = malloc(size ? size : 1);
	const char *lf;
	int ret;

	if (!buf)
		return 0;
	/* an exact-size copy, so ASan sees any read past the end */
	memcpy(buf, data, size);
	ret = remus_ctl_parse(buf, size, &req);
	lf = memchr(buf, '\n', size);
	if (ret > 0) {
		if (!lf || (size_t)ret != (size_t)(lf - buf) + 1 ||
		    ret > REMUS_CTL_LINE_MAX ||
		    req.verb > REMUS_CTL_PING)
			abort();
	} else if (ret == 0) {
		/* incomplete: no LF within the line limit */
		if ((lf && lf - buf < REMUS_CTL_LINE_MAX) ||
		    size >= REMUS_CTL_LINE_MAX)
			abort();
	}
	free(buf);
	return 0;
}
