// SPDX-License-Identifier: LGPL-2.1-or-later
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/icmp6.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "announce.h"

static int if_mac(int fd, unsigned int ifindex, uint8_t mac[ETH_ALEN])
{
	struct ifreq ifr = { 0 };

	if (!if_indextoname(ifindex, ifr.ifr_name))
		return -errno;
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		return -errno;
	memcpy(mac, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	return 0;
}

/* mac: the announced link-layer address; NULL: the interface's own. */
static int garp(unsigned int ifindex, const struct in_addr *ip,
		const uint8_t *mac)
{
	struct {
		struct ether_header eth;
		struct arphdr arp;
		uint8_t sha[ETH_ALEN], spa[4], tha[ETH_ALEN], tpa[4];
	} __attribute__((packed)) f;
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ARP),
		.sll_ifindex = (int)ifindex,
		.sll_halen = ETH_ALEN,
	};
	int fd, err;

	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ARP));
	if (fd < 0)
		return -errno;
	err = mac ? 0 : if_mac(fd, ifindex, f.sha);
	if (err)
		goto out;
	if (mac)
		memcpy(f.sha, mac, ETH_ALEN);
	memset(f.eth.ether_dhost, 0xff, ETH_ALEN);
	memcpy(f.eth.ether_shost, f.sha, ETH_ALEN);
	f.eth.ether_type = htons(ETH_P_ARP);
	f.arp.ar_hrd = htons(ARPHRD_ETHER);
	f.arp.ar_pro = htons(ETH_P_IP);
	f.arp.ar_hln = ETH_ALEN;
	f.arp.ar_pln = 4;
	/* A request for our own address: what every stack accepts. */
	f.arp.ar_op = htons(ARPOP_REQUEST);
	memcpy(f.spa, ip, 4);
	memcpy(f.tpa, ip, 4);
	memset(f.tha, 0, ETH_ALEN);
	memset(sll.sll_addr, 0xff, ETH_ALEN);
	if (sendto(fd, &f, sizeof(f), 0, (struct sockaddr *)&sll,
		   sizeof(sll)) < 0)
		err = -errno;
out:
	close(fd);
	return err;
}

static int unsolicited_na(unsigned int ifindex, const struct in6_addr *ip,
			  const uint8_t *mac)
{
	struct {
		struct nd_neighbor_advert na;
		struct nd_opt_hdr opt;
		uint8_t mac[ETH_ALEN];
	} __attribute__((packed)) m;
	struct sockaddr_in6 dst = { .sin6_family = AF_INET6,
				    .sin6_scope_id = ifindex };
	int fd, hops = 255, err;

	fd = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6);
	if (fd < 0)
		return -errno;
	err = mac ? 0 : if_mac(fd, ifindex, m.mac);
	if (err)
		goto out;
	if (mac)
		memcpy(m.mac, mac, ETH_ALEN);
	inet_pton(AF_INET6, "ff02::1", &dst.sin6_addr);
	setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof(hops));
	setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex,
		   sizeof(ifindex));
	memset(&m, 0, sizeof(m) - ETH_ALEN);
	m.na.nd_na_type = ND_NEIGHBOR_ADVERT;
	m.na.nd_na_flags_reserved = ND_NA_FLAG_OVERRIDE;
	m.na.nd_na_target = *ip;
	m.opt.nd_opt_type = ND_OPT_TARGET_LINKADDR;
	m.opt.nd_opt_len = 1;
	if (sendto(fd, &m, sizeof(m), 0, (struct sockaddr *)&dst,
		   sizeof(dst)) < 0)
		err = -errno;
out:
	close(fd);
	return err;
}

int remus_announce(unsigned int ifindex, int family, const void *addr)
{
	return remus_announce_mac(ifindex, NULL, family, addr);
}

int remus_announce_mac(unsigned int ifindex, const uint8_t *mac, int family,
		       const void *addr)
{
	if (family == AF_INET)
		return garp(ifindex, addr, mac);
	if (family == AF_INET6)
		return unsolicited_na(ifindex, addr, mac);
	return -EAFNOSUPPORT;
}

int remus_announce_all(void)
{
	struct ifaddrs *ifa, *i;
	int n = 0, err = 0;

	if (getifaddrs(&ifa) < 0)
		return -errno;
	for (i = ifa; i; i = i->ifa_next) {
		unsigned int idx;
		int e;

		if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK) ||
		    !(i->ifa_flags & IFF_UP))
			continue;
		idx = if_nametoindex(i->ifa_name);
		if (i->ifa_addr->sa_family == AF_INET)
			e = garp(idx, &((struct sockaddr_in *)i->ifa_addr)->sin_addr,
				 NULL);
		else if (i->ifa_addr->sa_family == AF_INET6)
			e = unsolicited_na(idx,
				&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr,
				NULL);
		else
			continue;
		if (e)
			err = e;
		else
			n++;
	}
	freeifaddrs(ifa);
	return n ? n : err;
}

struct ns_job {
	int nsfd;
	int ret;
};

/* A thread of its own: setns() moves only the calling thread. */
static void *ns_thread(void *arg)
{
	struct ns_job *j = arg;

	if (setns(j->nsfd, CLONE_NEWNET) < 0)
		j->ret = -errno;
	else
		j->ret = remus_announce_all();
	return NULL;
}

int remus_announce_pid(pid_t pid)
{
	struct ns_job j = { .ret = -EINVAL };
	char path[64];
	pthread_t t;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	j.nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (j.nsfd < 0)
		return -errno;
	if (pthread_create(&t, NULL, ns_thread, &j)) {
		close(j.nsfd);
		return -EAGAIN;
	}
	pthread_join(t, NULL);
	close(j.nsfd);
	return j.ret;
}
