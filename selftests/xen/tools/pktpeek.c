// SPDX-License-Identifier: GPL-2.0
/*
 * What crosses an interface, for the test log when a client hears
 * nothing: the first COUNT frames received on IFNAME within SECONDS, one
 * line each (destination and source MAC, ethertype, length, and for IPv4
 * the addresses), then how many it saw.
 *
 * pktpeek IFNAME [COUNT [SECONDS]]
 */
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void mac(const unsigned char *m, char *out)
{
	sprintf(out, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

int main(int argc, char **argv)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	int count = argc > 2 ? atoi(argv[2]) : 5, secs = argc > 3 ? atoi(argv[3]) : 3;
	int fd, seen = 0;
	time_t end;

	if (argc < 2) {
		fprintf(stderr, "usage: pktpeek IFNAME [COUNT [SECONDS]]\n");
		return 2;
	}
	sll.sll_ifindex = (int)if_nametoindex(argv[1]);
	fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	if (!sll.sll_ifindex || fd < 0 || bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		perror("pktpeek");
		return 1;
	}
	end = time(NULL) + secs;
	while (seen < count && time(NULL) < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		unsigned char f[2048];
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		char d[18], s[18], ips[40] = "";
		ssize_t n;

		if (poll(&p, 1, 200) <= 0)
			continue;
		n = recvfrom(fd, f, sizeof(f), 0, (struct sockaddr *)&from, &fl);
		if (n < 14 || from.sll_pkttype == PACKET_OUTGOING)
			continue;
		mac(f, d);
		mac(f + 6, s);
		if (f[12] == 0x08 && f[13] == 0x00 && n >= 34)
			snprintf(ips, sizeof(ips), " %u.%u.%u.%u > %u.%u.%u.%u",
				 f[26], f[27], f[28], f[29], f[30], f[31], f[32], f[33]);
		printf("%s %s > %s type %02x%02x len %zd%s\n", argv[1], s, d, f[12], f[13], n, ips);
		seen++;
	}
	printf("%s: %d frame(s) in at most %d s\n", argv[1], seen, secs);
	return 0;
}
