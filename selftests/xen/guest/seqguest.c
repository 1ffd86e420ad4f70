// SPDX-License-Identifier: GPL-2.0
/*
 * The protected guest's workload: a sequence number that only grows.
 *
 * Every PERIOD ms it takes the next number, writes it to the disk (sector 0
 * holds the newest, sector 1 + n % 1024 a ring of them), sends it to a
 * client over UDP, and once a second prints a tick line on the console.
 * After a failover the backup resumes this loop from checkpointed memory,
 * so the client can tell exactly which numbers it saw that the resumed
 * guest had not reached yet: that is the output-commit check.
 *
 * seqguest DEST_IP PORT PERIOD_MS [DISK]   (PERIOD_MS 0: back to back)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SECTOR 512
#define RING 1024

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_until(uint64_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

int main(int argc, char **argv)
{
	struct sockaddr_in dst = { .sin_family = AF_INET };
	uint64_t seq = 0, next, last_tick, ticks = 0, senderr = 0;
	int lasterr = 0;
	unsigned long period;
	char *blk = NULL;
	int sock, disk = -1;

	if (argc < 4 || inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1) {
		fprintf(stderr, "usage: seqguest DEST_IP PORT PERIOD_MS [DISK]\n");
		return 2;
	}
	dst.sin_port = htons(atoi(argv[2]));
	/* 0: no pause between numbers, as fast as the disk write allows. */
	period = strtoul(argv[3], NULL, 0);

	sock = socket(AF_INET, SOCK_DGRAM, 0);
	if (sock < 0) {
		perror("seqguest: socket");
		return 1;
	}
	if (argc > 4) {
		disk = open(argv[4], O_RDWR | O_DIRECT | O_SYNC);
		if (disk < 0)
			fprintf(stderr, "seqguest: open %s: %s (running without disk)\n",
				argv[4], strerror(errno));
		else if (posix_memalign((void **)&blk, 4096, SECTOR) ||
			 pread(disk, blk, SECTOR, 0) != SECTOR) {
			fprintf(stderr, "seqguest: read %s failed\n", argv[4]);
			return 1;
		} else {
			printf("seqguest: disk holds '%.40s'\n",
			       blk[0] == 's' ? blk : "(nothing)");
		}
	}

	printf("seqguest: start, sending to %s:%s every %lu ms\n", argv[1], argv[2], period);
	fflush(stdout);
	next = last_tick = now_ms();
	for (;;) {
		char msg[64];
		int len;

		seq++;
		len = snprintf(msg, sizeof(msg), "seq %" PRIu64 "\n", seq);
		if (disk >= 0) {
			memset(blk, 0, SECTOR);
			memcpy(blk, msg, len);
			if (pwrite(disk, blk, SECTOR, 0) != SECTOR ||
			    pwrite(disk, blk, SECTOR, (off_t)SECTOR * (1 + seq % RING)) != SECTOR)
				fprintf(stderr, "seqguest: disk write: %s\n", strerror(errno));
		}
		/* A send error (no route yet, no neighbour) must not stop the
		 * count; the tick line says how many and the last one. */
		if (sendto(sock, msg, len, 0, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
			senderr++;
			lasterr = errno;
		}

		next += period;
		if (now_ms() - last_tick >= 1000) {
			last_tick = now_ms();
			printf("tick %" PRIu64 " seq %" PRIu64 " senderr %" PRIu64 " %s\n",
			       ++ticks, seq, senderr, senderr ? strerror(lasterr) : "-");
			fflush(stdout);
		}
		if (next > now_ms())
			sleep_until(next);
		else
			next = now_ms();
	}
}
