// SPDX-License-Identifier: GPL-2.0
/*
 * Check a test guest's disk after a failover: seqguest writes every number
 * n to sector 0 ("the newest") and then to sector 1 + n % 1024 (a ring).
 * A disk that went through replication and failover intact is exactly
 * what a guest that counted 1, 2, ..., S0 without a break leaves:
 *
 *   - sector 0 holds S0, at least every number the client ever got
 *     (MAX: what the guest reported must be on its disk);
 *   - every ring slot r holds the largest n <= S0 with n % 1024 == r
 *     (or nothing, when S0 < that slot's first number); the slot of S0
 *     itself may still hold S0 - 1024 (the guest stopped between its two
 *     writes).
 *
 * A write lost by the replication (an epoch's writes missing on the
 * backup, or applied out of order) leaves a slot behind.
 *
 * seqdisk DEVICE [MAX]   exit 0 when consistent (and S0 >= MAX)
 * Prints: disk newest=S0 max=MAX slots=N bad=K [first_bad=r:had:want]
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECTOR 512
#define RING 1024

static int parse(const char *s, uint64_t *n)
{
	return sscanf(s, "seq %" SCNu64, n) == 1 ? 0 : -1;
}

int main(int argc, char **argv)
{
	uint64_t s0, max = 0, bad = 0, slots = 0, r;
	char first[96] = "";
	size_t len = (size_t)SECTOR * (1 + RING);
	char *buf;
	int fd;

	if (argc < 2) {
		fprintf(stderr, "usage: seqdisk DEVICE [MAX]\n");
		return 2;
	}
	if (argc > 2)
		max = strtoull(argv[2], NULL, 10);
	fd = open(argv[1], O_RDONLY | O_DIRECT);
	if (fd < 0 || posix_memalign((void **)&buf, 4096, len) ||
	    pread(fd, buf, len, 0) != (ssize_t)len) {
		perror("seqdisk: read");
		return 1;
	}
	if (parse(buf, &s0)) {
		printf("disk newest=none max=%" PRIu64 " slots=0 bad=1\n", max);
		return 1;
	}
	for (r = 0; r < RING; r++) {
		const char *sec = buf + SECTOR * (1 + r);
		uint64_t want, had = 0;

		/* The largest n <= s0 with n % RING == r (numbers start at 1). */
		if (s0 < r || (r == 0 && s0 < RING))
			want = 0;
		else
			want = s0 - (s0 - r) % RING;
		if (sec[0] && parse(sec, &had))
			had = UINT64_MAX;
		slots += had != 0;
		if (had == want)
			continue;
		if (want == s0 && had + RING == s0)
			continue;	/* stopped between the two writes */
		if (want == s0 && !had && s0 < RING)
			continue;
		if (!bad++)
			snprintf(first, sizeof(first), " first_bad=%" PRIu64 ":%" PRIu64 ":%" PRIu64,
				 r, had, want);
	}
	printf("disk newest=%" PRIu64 " max=%" PRIu64 " slots=%" PRIu64 " bad=%" PRIu64 "%s\n",
	       s0, max, slots, bad, first);
	return bad || s0 < max;
}
