/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libremus: telling the network where a failed-over guest is now.
 *
 * For every IPv4 address a gratuitous ARP (an ARP request for the address
 * itself, from its new port), for every IPv6 address an unsolicited
 * neighbour advertisement (override flag set) to all nodes, so that
 * neighbours and switches learn the guest's new place at once instead of
 * after their caches expire.
 */
#ifndef REMUS_ANNOUNCE_H
#define REMUS_ANNOUNCE_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/types.h>

/* Announce every address of every interface but lo, in the network
 * namespace of pid. Returns the number of announcements sent or -errno. */
int remus_announce_pid(pid_t pid);
/* The same in the caller's namespace. */
int remus_announce_all(void);
/* One address on one interface: family AF_INET or AF_INET6. */
int remus_announce(unsigned int ifindex, int family, const void *addr);
/*
 * The same on behalf of another link-layer address (a Xen guest's MAC,
 * sent from the bridge its vif is on): the ARP sender and the frame's
 * source, or the NA's target link-layer option, are @mac.
 */
int remus_announce_mac(unsigned int ifindex, const uint8_t *mac, int family,
		       const void *addr);

#endif /* REMUS_ANNOUNCE_H */
