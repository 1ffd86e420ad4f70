/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libremus: a guest's network output buffer.
 *
 * On Xen a guest's outbound packets arrive as ingress on its backend
 * interface (vifX.Y). Attaching a buffer to IFACE builds, with libnl-3:
 *
 *   IFACE ingress qdisc (ffff:)
 *     matchall, protocol all, pref REMUS_NETBUF_PREF
 *       action mirred egress redirect dev rifb<ifindex of IFACE>
 *   rifb<N>: an IFB device, up, alias "remus:<IFACE>:..."
 *     root qdisc: remus (or sch_plug when remus.ko is not loaded)
 *
 * Every protocol is redirected (IPv4, IPv6, ARP, anything), not only IP.
 * The IFB's alias records what attach created, so that detach removes
 * exactly that and nothing else, and re-attach is idempotent.
 *
 * With the sch_plug fallback only one closed epoch can be buffered at a
 * time: a second barrier before the first release is refused (-EBUSY),
 * which limits the engine to a pipeline depth of 1.
 */
#ifndef REMUS_NETBUF_H
#define REMUS_NETBUF_H

#include <stdbool.h>
#include <stdint.h>
#include <net/if.h>

struct remus_nl;
struct nl_sock;

#define REMUS_NETBUF_PREF	0x4d52	/* filter preference, "RM" */
#define REMUS_NETBUF_IFB_FMT	"rifb%u"

enum remus_netbuf_kind {
	REMUS_NETBUF_REMUS,	/* the remus qdisc of remus.ko */
	REMUS_NETBUF_PLUG,	/* mainline sch_plug: one epoch in flight */
};

/* remus_netbuf_attach() flags */
#define REMUS_NETBUF_F_NO_PLUG	(1U << 0)	/* refuse the sch_plug fallback */
#define REMUS_NETBUF_F_PLUG	(1U << 1)	/* use sch_plug even if remus.ko is loaded */

struct remus_netbuf_attach_info {
	enum remus_netbuf_kind kind;
	char ifb[IF_NAMESIZE];
	uint32_t ifb_ifindex;
	bool already;		/* everything was in place: nothing changed */
};

/*
 * Set up the buffer of IFACE. Returns 0, or -errno with nothing changed:
 * -ENODEV no such interface; -EOPNOTSUPP no IFB support (module ifb);
 * -EBUSY the interface's ingress already has filters of someone else, or
 * the IFB name is taken; -ENOENT remus.ko is not loaded and
 * REMUS_NETBUF_F_NO_PLUG was given.
 */
int remus_netbuf_attach(const char *ifname, unsigned int flags,
			struct remus_netbuf_attach_info *info);
/* Remove what attach created. -ENOENT if IFACE has no buffer. */
int remus_netbuf_detach(const char *ifname);

/* The buffer of an attached interface, for the engine. */
struct remus_netbuf {
	char ifname[IF_NAMESIZE];
	char ifb[IF_NAMESIZE];
	uint32_t ifindex;
	uint32_t ifb_ifindex;
	enum remus_netbuf_kind kind;
	uint64_t barrier;	/* plug: kept here; remus: in the kernel */
	uint64_t released;
	struct remus_nl *nl;	/* remus: borrowed, not thread-safe */
	struct nl_sock *rt;	/* plug: owned */
};

/*
 * Find the buffer of IFACE: the IFB of an attached interface, or IFACE
 * itself if its root qdisc is a remus one. nl may be NULL for plug.
 */
int remus_netbuf_open(struct remus_netbuf *nb, const char *ifname,
		      struct remus_nl *nl);
void remus_netbuf_close(struct remus_netbuf *nb);
int remus_netbuf_barrier(struct remus_netbuf *nb, uint64_t epoch);
int remus_netbuf_release(struct remus_netbuf *nb, uint64_t epoch);
int remus_netbuf_discard(struct remus_netbuf *nb);
int remus_netbuf_passthrough(struct remus_netbuf *nb);

/*
 * Resolve the interface whose root qdisc is the buffer of IFACE (IFACE
 * itself, or its rifb<N>). Returns its ifindex or -errno.
 */
int remus_netbuf_resolve(const char *ifname, char *bufdev, size_t len);

const char *remus_netbuf_kind_name(enum remus_netbuf_kind kind);

#endif /* REMUS_NETBUF_H */
