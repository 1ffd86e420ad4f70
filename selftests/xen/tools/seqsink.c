// SPDX-License-Identifier: GPL-2.0
/*
 * The client of the protected guest: receives its UDP sequence numbers and
 * reports what a client of a replicated service must never see, a number
 * going backwards (the guest was resumed from a checkpoint older than output
 * the client already had), and the silences (failover time seen by the
 * client). Times are CLOCK_BOOTTIME seconds, the clock of /proc/uptime.
 *
 * seqsink PORT
 * Event lines on stdout:
 *   first t=T seq=N
 *   gap t=T after=N got=M                  (numbers lost on the way)
 *   silence from=T1 to=T2 dur=D last=N got=M   (no datagram for > 0.5 s)
 *   rollback t=T max=M got=S unreached=K   (S was seen before: the guest
 *                                           sends it again, resumed from an
 *                                           older state; K = M - S + 1 numbers
 *                                           it had not reached)
 *   late t=T max=M got=S                   (S below the newest but never seen:
 *                                           reordered or delayed on the way,
 *                                           which is no rollback)
 * and on SIGTERM/SIGINT/SIGUSR1 a "summary" line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t want_summary, want_exit;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The numbers seen, over a window far wider than any burst or rollback. */
#define SEEN_WINDOW (1u << 16)
static uint64_t seen[SEEN_WINDOW];

static uint64_t max, last, packets, rollbacks, unreached, gaps, lost, late;
static double longest;

static void summary(void)
{
	printf("summary t=%.3f packets=%" PRIu64 " max=%" PRIu64 " last=%" PRIu64
	       " rollbacks=%" PRIu64 " unreached=%" PRIu64 " gaps=%" PRIu64 " lost=%" PRIu64
	       " late=%" PRIu64 " longest_silence=%.3f\n", now_s(), packets, max, last,
	       rollbacks, unreached, gaps, lost, late, longest);
}

static int was_seen(uint64_t seq)
{
	return seen[seq % SEEN_WINDOW] == seq + 1;
}

static void on_signal(int sig)
{
	want_summary = 1;
	if (sig != SIGUSR1)
		want_exit = 1;
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };
	int repeating = 0;
	double last_t = 0;
	struct sigaction sa = { .sa_handler = on_signal };
	int sock;

	if (argc != 2) {
		fprintf(stderr, "usage: seqsink PORT\n");
		return 2;
	}
	addr.sin_port = htons(atoi(argv[1]));
	sock = socket(AF_INET, SOCK_DGRAM, 0);
	if (sock < 0 || bind(sock, (struct sockaddr *)&addr, sizeof(addr))) {
		perror("seqsink: bind");
		return 1;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);

	while (!want_exit) {
		char buf[128];
		uint64_t seq;
		ssize_t n;
		double t;

		if (want_summary) {
			want_summary = 0;
			summary();
		}
		n = recv(sock, buf, sizeof(buf) - 1, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("seqsink: recv");
			return 1;
		}
		buf[n] = 0;
		if (sscanf(buf, "seq %" SCNu64, &seq) != 1)
			continue;
		t = now_s();
		packets++;
		if (packets == 1)
			printf("first t=%.3f seq=%" PRIu64 "\n", t, seq);
		else if (t - last_t > 0.5)
			printf("silence from=%.3f to=%.3f dur=%.3f last=%" PRIu64 " got=%" PRIu64 "\n",
			       last_t, t, t - last_t, last, seq);
		if (packets > 1 && t - last_t > longest)
			longest = t - last_t;
		if (packets > 1 && seq <= max && was_seen(seq)) {
			/* A number again: the guest resumed from an older state.
			 * One rollback per run of repeats. */
			if (!repeating) {
				rollbacks++;
				unreached += max - seq + 1;
				printf("rollback t=%.3f max=%" PRIu64 " got=%" PRIu64
				       " unreached=%" PRIu64 "\n", t, max, seq, max - seq + 1);
			}
			repeating = 1;
		} else if (packets > 1 && seq <= max) {
			late++;
			lost--;		/* a gap it fills */
			printf("late t=%.3f max=%" PRIu64 " got=%" PRIu64 "\n", t, max, seq);
		} else if (seq > max + 1 && packets > 1) {
			gaps++;
			lost += seq - max - 1;
			printf("gap t=%.3f after=%" PRIu64 " got=%" PRIu64 "\n", t, max, seq);
		}
		if (seq > max) {
			max = seq;
			repeating = 0;
		}
		seen[seq % SEEN_WINDOW] = seq + 1;
		last = seq;
		last_t = t;
	}
	summary();
	return 0;
}
