// SPDX-License-Identifier: GPL-2.0
/*
 * seqcheck: the client of the output-commit proof.
 *
 * Receives the demo guest's datagrams ("seq N gen G") and checks what a
 * client of a Remus-protected guest must never see: a number that the
 * guest, after a failover, has not reached. A restored guest (generation
 * G + 1) first says where its committed state stands ("restored C gen
 * G+1"), then carries on from C. If this client had already seen M > C,
 * the numbers C + 1 .. M were output of a state the failover lost: a
 * rollback visible to the client, counted as M - C violations. Resending
 * C itself is fine: the restored guest had reached it (its send may have
 * been cut short by the checkpoint). Without the announcement (lost, as
 * datagrams may be), any datagram of a newer generation below M counts.
 * A guest with a disk adds "disk ok" or "disk BAD" to its announcement:
 * its own check of the disk it came back with (demo-guest -D).
 *
 *   seqcheck [-6] -p PORT [-t SECONDS] [-n MIN_AFTER] [-L] [-o FILE] [-r FILE]
 *
 * Stops after SECONDS (default 10), on SIGTERM/SIGINT, or, with -n, once
 * MIN_AFTER datagrams of a generation newer than the first arrived. Prints
 * a summary of "key value" lines (to FILE with -o). -L prints a live line
 * per generation change, for the demo. -r creates FILE once the socket is
 * bound, so that a test starts the guest only when nothing can be missed.
 * -s FILE keeps "received N max M" in FILE, rewritten every 100 ms, for
 * tests that watch the flow.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_GENS 64

struct gen {
	uint64_t gen, first, last, count;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss = { 0 };
	struct gen gens[MAX_GENS];
	unsigned int ngens = 0, i;
	uint64_t received = 0, violations = 0, max = 0, max_gen = 0, newer = 0;
	uint64_t v_seq = 0, v_gen = 0, v_max = 0, junk = 0, restores = 0;
	uint64_t disk_ok = 0, disk_bad = 0;
	double seconds = 10, t0, t_switch = 0;
	int c, fd, port = 0, v6 = 0, live = 0;
	long min_after = -1;
	const char *out = NULL, *ready = NULL, *status = NULL;
	double t_status = 0;
	FILE *f;

	while ((c = getopt(argc, argv, "6p:t:n:Lo:r:s:")) != -1) {
		switch (c) {
		case '6': v6 = 1; break;
		case 'p': port = atoi(optarg); break;
		case 't': seconds = atof(optarg); break;
		case 'n': min_after = atol(optarg); break;
		case 'L': live = 1; break;
		case 'o': out = optarg; break;
		case 'r': ready = optarg; break;
		case 's': status = optarg; break;
		default:
			fprintf(stderr, "usage: seqcheck [-6] -p PORT [-t SECONDS] [-n MIN_AFTER] [-L] [-o FILE] [-r FILE]\n");
			return 2;
		}
	}
	if (port <= 0 || port > 65535) {
		fprintf(stderr, "seqcheck: -p PORT\n");
		return 2;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		a->sin6_addr = in6addr_any;
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
	}
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, sizeof(ss)) < 0) {
		perror("seqcheck: socket");
		return 1;
	}
	if (ready) {
		FILE *r = fopen(ready, "w");

		if (!r || fclose(r)) {
			perror(ready);
			return 1;
		}
	}
	t0 = now();
	while (!stop && now() - t0 < seconds) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char buf[128];
		uint64_t seq, gen;
		ssize_t n;
		struct gen *g = NULL;

		if (status && now() - t_status >= 0.1) {
			char tmp[512];
			FILE *sf;

			snprintf(tmp, sizeof(tmp), "%s.tmp", status);
			sf = fopen(tmp, "w");
			if (sf) {
				fprintf(sf, "received %" PRIu64 " max %" PRIu64 "\n",
					received, max);
				fclose(sf);
				rename(tmp, status);
			}
			t_status = now();
		}
		if (poll(&p, 1, 100) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		if (sscanf(buf, "restored %" SCNu64 " gen %" SCNu64, &seq,
			   &gen) == 2) {
			if (strstr(buf, " disk ok"))
				disk_ok++;
			else if (strstr(buf, " disk BAD"))
				disk_bad++;
			if (live)
				printf("client: generation %" PRIu64 " restored at seq %" PRIu64
				       " (the most the client had seen: %" PRIu64 ")%s\n",
				       gen, seq, max,
				       max > seq ? "  ROLLBACK" : "  consistent");
			if (max > seq && gen > max_gen) {
				if (!violations) {
					v_seq = seq;
					v_gen = gen;
					v_max = max;
				}
				violations += max - seq;
			}
			restores++;
			fflush(stdout);
			continue;
		}
		if (sscanf(buf, "seq %" SCNu64 " gen %" SCNu64, &seq, &gen) != 2) {
			junk++;
			continue;
		}
		received++;
		for (i = 0; i < ngens; i++)
			if (gens[i].gen == gen)
				g = &gens[i];
		if (!g && ngens < MAX_GENS) {
			g = &gens[ngens++];
			g->gen = gen;
			g->first = g->last = seq;
			g->count = 0;
			if (live)
				printf("client: generation %" PRIu64 " speaks, first seq %" PRIu64
				       " (the most the client had seen: %" PRIu64 ")\n",
				       gen, seq, max);
			if (ngens > 1)
				t_switch = now();
			fflush(stdout);
		}
		if (g) {
			g->count++;
			if (seq > g->last)
				g->last = seq;
		}
		/* Below what an older generation said: rolled back. */
		if (seq < max && gen > max_gen && !restores) {
			if (!violations) {
				v_seq = seq;
				v_gen = gen;
				v_max = max;
			}
			violations++;
		}
		if (seq > max) {
			max = seq;
			max_gen = gen;
		}
		if (ngens > 1 && gen != gens[0].gen)
			newer++;
		if (min_after >= 0 && newer >= (uint64_t)min_after)
			break;
	}
	f = out ? fopen(out, "w") : stdout;
	if (!f) {
		perror(out);
		return 1;
	}
	fprintf(f, "received %" PRIu64 "\n", received);
	fprintf(f, "junk %" PRIu64 "\n", junk);
	fprintf(f, "gens %u\n", ngens);
	for (i = 0; i < ngens; i++)
		fprintf(f, "gen %" PRIu64 " first %" PRIu64 " last %" PRIu64
			" count %" PRIu64 "\n", gens[i].gen, gens[i].first,
			gens[i].last, gens[i].count);
	fprintf(f, "max %" PRIu64 "\n", max);
	fprintf(f, "after_failover %" PRIu64 "\n", newer);
	fprintf(f, "restores %" PRIu64 "\n", restores);
	fprintf(f, "disk_ok %" PRIu64 "\n", disk_ok);
	fprintf(f, "disk_bad %" PRIu64 "\n", disk_bad);
	fprintf(f, "violations %" PRIu64 "\n", violations);
	if (violations)
		fprintf(f, "first_violation seq %" PRIu64 " gen %" PRIu64
			" after_max %" PRIu64 "\n", v_seq, v_gen, v_max);
	if (t_switch)
		fprintf(f, "switch_after_s %.3f\n", t_switch - t0);
	if (out)
		fclose(f);
	return 0;
}
