// SPDX-License-Identifier: GPL-2.0
/*
 * engbench: the epoch engine's benchmarks (issue 4). One program, one
 * subcommand a benchmark; bench/engine/run.sh runs them all and writes
 * bench/engine/results.md.
 *
 *   engbench pause     pause vs dirty pages and guest size, against the floor
 *   engbench rate      sustained checkpoints/s and commit latency, loopback
 *   engbench tput      guest throughput protected vs unprotected
 *   engbench codec     compression on the demo guest's real checkpoints
 *   engbench failover  primary death to the backup guest's first packet
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "engbench.h"

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "pause", bench_pause }, { "rate", bench_rate },
		{ "tput", bench_tput }, { "codec", bench_codec },
		{ "failover", bench_failover },
	};
	unsigned int i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (getrandom(bench_key, sizeof(bench_key), 0) != sizeof(bench_key))
		die("getrandom");
	for (i = 0; argc >= 2 && i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "usage: engbench pause|rate|tput|codec|failover [OPTIONS]\n");
	return 2;
}
