// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A guest's network output buffer: IFB plumbing with libnl-3 route, and
 * barrier/release on the remus qdisc (over the generic netlink family) or
 * on mainline sch_plug (over libnl's plug API). See netbuf.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/tc_act/tc_mirred.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/act/mirred.h>
#include <netlink/route/action.h>
#include <netlink/route/classifier.h>
#include <netlink/route/cls/matchall.h>
#include <netlink/route/link.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/plug.h>

#include "netbuf.h"
#include "nl.h"

#define ALIAS_PREFIX	"remus:"
#define PLUG_LIMIT	((int)(REMUS_DEFAULT_LIMIT_BYTES > 0x7fffffff ? \
			       0x7fffffff : REMUS_DEFAULT_LIMIT_BYTES))

/* libnl reports -NLE_* codes; this library speaks -errno. */
static int nlerr(int e)
{
	switch (-e) {
	case 0:			return 0;
	case NLE_INTR:		return -EINTR;
	case NLE_AGAIN:		return -EAGAIN;
	case NLE_NOMEM:		return -ENOMEM;
	case NLE_EXIST:		return -EEXIST;
	case NLE_INVAL:		return -EINVAL;
	case NLE_RANGE:		return -ERANGE;
	case NLE_MSGSIZE:	return -EMSGSIZE;
	case NLE_OPNOTSUPP:	return -EOPNOTSUPP;
	case NLE_AF_NOSUPPORT:	return -EAFNOSUPPORT;
	case NLE_OBJ_NOTFOUND:	return -ENOENT;
	case NLE_BUSY:		return -EBUSY;
	case NLE_NOACCESS:	return -EACCES;
	case NLE_PERM:		return -EPERM;
	case NLE_NODEV:		return -ENODEV;
	}
	return -EIO;
}

static int route_open(struct nl_sock **skp)
{
	struct nl_sock *sk = nl_socket_alloc();
	int err;

	if (!sk)
		return -ENOMEM;
	err = nl_connect(sk, NETLINK_ROUTE);
	if (err) {
		nl_socket_free(sk);
		return nlerr(err);
	}
	*skp = sk;
	return 0;
}

static int link_get(struct nl_sock *sk, const char *name,
		    struct rtnl_link **link)
{
	int err = rtnl_link_get_kernel(sk, 0, name, link);

	if (err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV)
		return -ENODEV;
	return nlerr(err);
}

/* The qdisc of ifindex at parent, or NULL. Caller puts it. */
static struct rtnl_qdisc *qdisc_get(struct nl_sock *sk, int ifindex,
				    uint32_t parent, int *errp)
{
	struct nl_cache *cache;
	struct rtnl_qdisc *q;
	int err;

	err = rtnl_qdisc_alloc_cache(sk, &cache);
	if (err) {
		*errp = nlerr(err);
		return NULL;
	}
	q = rtnl_qdisc_get_by_parent(cache, ifindex, parent);
	nl_cache_free(cache);
	*errp = 0;
	return q;
}

/*
 * The ingress filters of ifindex: is ours there, are there others?
 */
static int ingress_filters(struct nl_sock *sk, int ifindex, bool *ours,
			   bool *others)
{
	struct nl_cache *cache;
	struct nl_object *obj;
	int err;

	*ours = *others = false;
	err = rtnl_cls_alloc_cache(sk, ifindex, TC_H_MAJ(TC_H_INGRESS),
				   &cache);
	if (err)
		return nlerr(err);
	for (obj = nl_cache_get_first(cache); obj;
	     obj = nl_cache_get_next(obj)) {
		struct rtnl_cls *cls = (struct rtnl_cls *)obj;

		if (rtnl_cls_get_prio(cls) == REMUS_NETBUF_PREF)
			*ours = true;
		else
			*others = true;
	}
	nl_cache_free(cache);
	return 0;
}

static struct rtnl_qdisc *qdisc_new(int ifindex, uint32_t parent,
				    uint32_t handle, const char *kind)
{
	struct rtnl_qdisc *q = rtnl_qdisc_alloc();

	if (!q)
		return NULL;
	rtnl_tc_set_ifindex(TC_CAST(q), ifindex);
	rtnl_tc_set_parent(TC_CAST(q), parent);
	if (handle)
		rtnl_tc_set_handle(TC_CAST(q), handle);
	if (rtnl_tc_set_kind(TC_CAST(q), kind)) {
		rtnl_qdisc_put(q);
		return NULL;
	}
	return q;
}

static int root_qdisc_add(struct nl_sock *sk, int ifindex,
			  enum remus_netbuf_kind kind)
{
	const char *k = kind == REMUS_NETBUF_PLUG ? "plug" : REMUS_QDISC_KIND;
	struct rtnl_qdisc *q = qdisc_new(ifindex, TC_H_ROOT, TC_HANDLE(1, 0),
					 k);
	int err;

	if (!q)
		return -ENOMEM;
	if (kind == REMUS_NETBUF_PLUG)
		rtnl_qdisc_plug_set_limit(q, PLUG_LIMIT);
	err = rtnl_qdisc_add(sk, q, NLM_F_CREATE | NLM_F_REPLACE);
	rtnl_qdisc_put(q);
	return nlerr(err);
}

static int ingress_add(struct nl_sock *sk, int ifindex)
{
	struct rtnl_qdisc *q = qdisc_new(ifindex, TC_H_INGRESS,
					 TC_HANDLE(0xffff, 0), "ingress");
	int err;

	if (!q)
		return -ENOMEM;
	err = rtnl_qdisc_add(sk, q, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_qdisc_put(q);
	return nlerr(err);
}

static int ingress_del(struct nl_sock *sk, int ifindex)
{
	struct rtnl_qdisc *q = qdisc_new(ifindex, TC_H_INGRESS,
					 TC_HANDLE(0xffff, 0), "ingress");
	int err;

	if (!q)
		return -ENOMEM;
	err = rtnl_qdisc_delete(sk, q);
	rtnl_qdisc_put(q);
	return nlerr(err);
}

static struct rtnl_cls *filter_new(int ifindex)
{
	struct rtnl_cls *cls = rtnl_cls_alloc();

	if (!cls)
		return NULL;
	rtnl_tc_set_ifindex(TC_CAST(cls), ifindex);
	rtnl_tc_set_parent(TC_CAST(cls), TC_H_MAJ(TC_H_INGRESS));
	rtnl_cls_set_prio(cls, REMUS_NETBUF_PREF);
	rtnl_cls_set_protocol(cls, ETH_P_ALL);
	if (rtnl_tc_set_kind(TC_CAST(cls), "matchall")) {
		rtnl_cls_put(cls);
		return NULL;
	}
	return cls;
}

/* matchall, every protocol, redirected to the IFB's egress. */
static int filter_add(struct nl_sock *sk, int ifindex, int ifb_ifindex)
{
	struct rtnl_cls *cls = filter_new(ifindex);
	struct rtnl_act *act;
	int err = -ENOMEM;

	if (!cls)
		return -ENOMEM;
	act = rtnl_act_alloc();
	if (!act)
		goto out;
	if (rtnl_tc_set_kind(TC_CAST(act), "mirred"))
		goto out_act;
	rtnl_mirred_set_action(act, TCA_EGRESS_REDIR);
	rtnl_mirred_set_policy(act, TC_ACT_STOLEN);
	rtnl_mirred_set_ifindex(act, ifb_ifindex);
	err = nlerr(rtnl_mall_append_action(cls, act));
	if (err)
		goto out_act;
	err = nlerr(rtnl_cls_add(sk, cls, NLM_F_CREATE | NLM_F_EXCL));
out_act:
	rtnl_act_put(act);
out:
	rtnl_cls_put(cls);
	return err;
}

static int filter_del(struct nl_sock *sk, int ifindex)
{
	struct rtnl_cls *cls = filter_new(ifindex);
	int err;

	if (!cls)
		return -ENOMEM;
	err = rtnl_cls_delete(sk, cls, 0);
	rtnl_cls_put(cls);
	return nlerr(err);
}

static int link_del(struct nl_sock *sk, const char *name);

static int ifb_add(struct nl_sock *sk, const char *name, const char *alias,
		   uint32_t *ifindex)
{
	struct rtnl_link *l = rtnl_link_alloc(), *got, *chg;
	int err;

	if (!l)
		return -ENOMEM;
	rtnl_link_set_name(l, name);
	rtnl_link_set_flags(l, IFF_UP);
	err = rtnl_link_set_type(l, "ifb");
	if (!err)
		err = rtnl_link_add(sk, l, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_link_put(l);
	/* The kernel says EOPNOTSUPP for a link kind it cannot load. */
	if (err)
		return nlerr(err);
	err = link_get(sk, name, &got);
	if (err)
		return err;
	*ifindex = rtnl_link_get_ifindex(got);
	/* A new link takes no alias: it is set by a change afterwards. */
	chg = rtnl_link_alloc();
	err = -ENOMEM;
	if (chg) {
		rtnl_link_set_ifalias(chg, alias);
		err = nlerr(rtnl_link_change(sk, got, chg, 0));
		rtnl_link_put(chg);
	}
	rtnl_link_put(got);
	if (err)
		link_del(sk, name);
	return err;
}

static int link_del(struct nl_sock *sk, const char *name)
{
	struct rtnl_link *l = rtnl_link_alloc();
	int err;

	if (!l)
		return -ENOMEM;
	rtnl_link_set_name(l, name);
	err = rtnl_link_delete(sk, l);
	rtnl_link_put(l);
	return nlerr(err);
}

static int link_set_up(struct nl_sock *sk, struct rtnl_link *link)
{
	struct rtnl_link *chg = rtnl_link_alloc();
	int err;

	if (!chg)
		return -ENOMEM;
	rtnl_link_set_flags(chg, IFF_UP);
	err = rtnl_link_change(sk, link, chg, 0);
	rtnl_link_put(chg);
	return nlerr(err);
}

/*
 * The alias of our IFB: "remus:<iface>:ingress=<created|kept>". Returns
 * 1 if alias is ours for ifname (and sets *created), 0 if not.
 */
static int alias_parse(const char *alias, const char *ifname, bool *created)
{
	size_t n = strlen(ALIAS_PREFIX), l = strlen(ifname);

	if (!alias || strncmp(alias, ALIAS_PREFIX, n) ||
	    strncmp(alias + n, ifname, l) || alias[n + l] != ':')
		return 0;
	*created = !strcmp(alias + n + l + 1, "ingress=created");
	return 1;
}

static int pick_kind(unsigned int flags, enum remus_netbuf_kind *kind)
{
	struct remus_nl nl;
	int err;

	if (flags & REMUS_NETBUF_F_PLUG) {
		*kind = REMUS_NETBUF_PLUG;
		return 0;
	}
	err = remus_nl_open(&nl);
	if (!err) {
		remus_nl_close(&nl);
		*kind = REMUS_NETBUF_REMUS;
		return 0;
	}
	if (err != -ENOENT || (flags & REMUS_NETBUF_F_NO_PLUG))
		return err;
	*kind = REMUS_NETBUF_PLUG;
	return 0;
}

int remus_netbuf_attach(const char *ifname, unsigned int flags,
			struct remus_netbuf_attach_info *info)
{
	bool ifb_made = false, ingress_made = false, ours, others, created;
	struct rtnl_link *link = NULL, *ifb = NULL;
	struct rtnl_qdisc *root = NULL, *ingress = NULL;
	const char *want;
	struct nl_sock *sk;
	char alias[64];
	int ifindex, err;

	memset(info, 0, sizeof(*info));
	err = route_open(&sk);
	if (err)
		return err;
	err = link_get(sk, ifname, &link);
	if (err)
		goto out;
	ifindex = rtnl_link_get_ifindex(link);
	snprintf(info->ifb, sizeof(info->ifb), REMUS_NETBUF_IFB_FMT, ifindex);
	err = pick_kind(flags, &info->kind);
	if (err)
		goto out;
	want = info->kind == REMUS_NETBUF_PLUG ? "plug" : REMUS_QDISC_KIND;

	/* Look before touching anything, so that a refusal changes nothing. */
	err = link_get(sk, info->ifb, &ifb);
	if (err && err != -ENODEV)
		goto out;
	if (!err && !alias_parse(rtnl_link_get_ifalias(ifb), ifname,
				 &created)) {
		err = -EBUSY;	/* the name is someone else's */
		goto out;
	}
	ingress = qdisc_get(sk, ifindex, TC_H_INGRESS, &err);
	if (err)
		goto out;
	ours = others = false;
	if (ingress) {
		err = ingress_filters(sk, ifindex, &ours, &others);
		if (err)
			goto out;
		if (others) {
			err = -EBUSY;	/* someone else steers this ingress */
			goto out;
		}
	}
	if (ifb) {
		info->ifb_ifindex = rtnl_link_get_ifindex(ifb);
		root = qdisc_get(sk, info->ifb_ifindex, TC_H_ROOT, &err);
		if (err)
			goto out;
		if (ours && root &&
		    !strcmp(rtnl_tc_get_kind(TC_CAST(root)), want) &&
		    (rtnl_link_get_flags(ifb) & IFF_UP)) {
			info->already = true;
			goto out;
		}
	}

	if (!ifb) {
		snprintf(alias, sizeof(alias), ALIAS_PREFIX "%s:ingress=%s",
			 ifname, ingress ? "kept" : "created");
		err = ifb_add(sk, info->ifb, alias, &info->ifb_ifindex);
		if (err)
			goto out;
		ifb_made = true;
	} else if (!(rtnl_link_get_flags(ifb) & IFF_UP)) {
		err = link_set_up(sk, ifb);
		if (err)
			goto out;
	}
	if (!root || strcmp(rtnl_tc_get_kind(TC_CAST(root)), want)) {
		err = root_qdisc_add(sk, info->ifb_ifindex, info->kind);
		if (err)
			goto undo;
	}
	if (!ingress) {
		err = ingress_add(sk, ifindex);
		if (err)
			goto undo;
		ingress_made = true;
	}
	if (!ours) {
		err = filter_add(sk, ifindex, info->ifb_ifindex);
		if (err)
			goto undo;
	}
	goto out;

undo:
	if (ingress_made)
		ingress_del(sk, ifindex);
	if (ifb_made)
		link_del(sk, info->ifb);
out:
	if (root)
		rtnl_qdisc_put(root);
	if (ingress)
		rtnl_qdisc_put(ingress);
	if (ifb)
		rtnl_link_put(ifb);
	if (link)
		rtnl_link_put(link);
	nl_socket_free(sk);
	return err;
}

int remus_netbuf_detach(const char *ifname)
{
	struct rtnl_link *link = NULL, *ifb = NULL;
	bool created = false, ours, others;
	char name[IF_NAMESIZE];
	struct nl_sock *sk;
	int ifindex, err;

	err = route_open(&sk);
	if (err)
		return err;
	err = link_get(sk, ifname, &link);
	if (err)
		goto out;
	ifindex = rtnl_link_get_ifindex(link);
	snprintf(name, sizeof(name), REMUS_NETBUF_IFB_FMT, ifindex);
	err = link_get(sk, name, &ifb);
	if (err == -ENODEV) {
		err = -ENOENT;
		goto out;
	}
	if (err)
		goto out;
	if (!alias_parse(rtnl_link_get_ifalias(ifb), ifname, &created)) {
		err = -ENOENT;
		goto out;
	}
	err = ingress_filters(sk, ifindex, &ours, &others);
	if (err && err != -ENOENT)
		goto out;
	if (ours) {
		err = filter_del(sk, ifindex);
		if (err)
			goto out;
	}
	/* An ingress we made goes, unless someone has filters on it now. */
	if (created && !others) {
		err = ingress_del(sk, ifindex);
		if (err && err != -ENOENT && err != -EINVAL)
			goto out;
	}
	err = link_del(sk, name);
out:
	if (ifb)
		rtnl_link_put(ifb);
	if (link)
		rtnl_link_put(link);
	nl_socket_free(sk);
	return err;
}

int remus_netbuf_resolve(const char *ifname, char *bufdev, size_t len)
{
	struct rtnl_link *link = NULL, *ifb = NULL;
	struct rtnl_qdisc *root;
	char name[IF_NAMESIZE];
	struct nl_sock *sk;
	bool created;
	int ifindex, err;

	err = route_open(&sk);
	if (err)
		return err;
	err = link_get(sk, ifname, &link);
	if (err)
		goto out;
	ifindex = rtnl_link_get_ifindex(link);
	snprintf(name, sizeof(name), REMUS_NETBUF_IFB_FMT, ifindex);
	if (!link_get(sk, name, &ifb) &&
	    alias_parse(rtnl_link_get_ifalias(ifb), ifname, &created)) {
		snprintf(bufdev, len, "%s", name);
		err = rtnl_link_get_ifindex(ifb);
		goto out;
	}
	/* No IFB: a buffer directly on the interface, as in tests. */
	root = qdisc_get(sk, ifindex, TC_H_ROOT, &err);
	if (err)
		goto out;
	err = -ENOENT;
	if (root) {
		const char *kind = rtnl_tc_get_kind(TC_CAST(root));

		if (!strcmp(kind, REMUS_QDISC_KIND) || !strcmp(kind, "plug")) {
			snprintf(bufdev, len, "%s", ifname);
			err = ifindex;
		}
		rtnl_qdisc_put(root);
	}
out:
	if (ifb)
		rtnl_link_put(ifb);
	if (link)
		rtnl_link_put(link);
	nl_socket_free(sk);
	return err;
}

int remus_netbuf_open(struct remus_netbuf *nb, const char *ifname,
		      struct remus_nl *nl)
{
	struct remus_buf_info *info;
	struct rtnl_qdisc *root;
	int idx, err;

	memset(nb, 0, sizeof(*nb));
	snprintf(nb->ifname, sizeof(nb->ifname), "%s", ifname);
	idx = remus_netbuf_resolve(ifname, nb->ifb, sizeof(nb->ifb));
	if (idx < 0)
		return idx;
	nb->ifb_ifindex = idx;
	nb->ifindex = if_nametoindex(ifname);
	err = route_open(&nb->rt);
	if (err)
		return err;
	root = qdisc_get(nb->rt, idx, TC_H_ROOT, &err);
	if (err)
		goto err_rt;
	err = -ENOENT;
	if (!root)
		goto err_rt;
	nb->kind = strcmp(rtnl_tc_get_kind(TC_CAST(root)), "plug") ?
		   REMUS_NETBUF_REMUS : REMUS_NETBUF_PLUG;
	rtnl_qdisc_put(root);
	if (nb->kind == REMUS_NETBUF_PLUG)
		return 0;

	err = -EINVAL;
	if (!nl)
		goto err_rt;
	nb->nl = nl;
	info = malloc(sizeof(*info));
	err = -ENOMEM;
	if (!info)
		goto err_rt;
	/* Epochs go on from where the kernel is: barriers must increase. */
	err = remus_net_get(nl, idx, 0, info);
	if (!err) {
		nb->barrier = info->barrier;
		nb->released = info->released;
	}
	free(info);
	if (err)
		goto err_rt;
	nl_socket_free(nb->rt);
	nb->rt = NULL;
	return 0;

err_rt:
	nl_socket_free(nb->rt);
	nb->rt = NULL;
	return err;
}

void remus_netbuf_close(struct remus_netbuf *nb)
{
	if (nb->rt)
		nl_socket_free(nb->rt);
	nb->rt = NULL;
}

/* One sch_plug operation on the IFB's root qdisc, as a change. */
static int plug_op(struct remus_netbuf *nb, int (*op)(struct rtnl_qdisc *))
{
	struct rtnl_qdisc *q = qdisc_new(nb->ifb_ifindex, TC_H_ROOT, 0, "plug");
	int err;

	if (!q)
		return -ENOMEM;
	err = op(q);
	if (!err)
		err = rtnl_qdisc_add(nb->rt, q, 0);
	rtnl_qdisc_put(q);
	return nlerr(err);
}

int remus_netbuf_barrier(struct remus_netbuf *nb, uint64_t epoch)
{
	int err;

	if (epoch <= nb->barrier)
		return -EINVAL;
	if (nb->kind == REMUS_NETBUF_REMUS) {
		err = remus_net_barrier(nb->nl, nb->ifb_ifindex, epoch);
	} else {
		/*
		 * sch_plug keeps one closed epoch: a second barrier would
		 * merge the counts and let the older epoch's packets out on
		 * the newer one's release.
		 */
		if (nb->barrier > nb->released)
			return -EBUSY;
		err = plug_op(nb, rtnl_qdisc_plug_buffer);
	}
	if (!err)
		nb->barrier = epoch;
	return err;
}

int remus_netbuf_release(struct remus_netbuf *nb, uint64_t epoch)
{
	int err;

	if (epoch <= nb->released)
		return 0;
	if (epoch > nb->barrier)
		return -EINVAL;
	if (nb->kind == REMUS_NETBUF_REMUS) {
		err = remus_net_release(nb->nl, nb->ifb_ifindex, epoch);
	} else {
		/* The one closed epoch goes as a whole, or not at all. */
		if (epoch != nb->barrier)
			return -EINVAL;
		err = plug_op(nb, rtnl_qdisc_plug_release_one);
	}
	if (!err)
		nb->released = epoch;
	return err;
}

int remus_netbuf_discard(struct remus_netbuf *nb)
{
	if (nb->kind == REMUS_NETBUF_REMUS)
		return remus_net_discard(nb->nl, nb->ifb_ifindex);
	/* sch_plug cannot drop: a fresh one in its place holds nothing. */
	nb->released = nb->barrier;
	return root_qdisc_add(nb->rt, nb->ifb_ifindex, REMUS_NETBUF_PLUG);
}

int remus_netbuf_passthrough(struct remus_netbuf *nb)
{
	uint32_t mode = REMUS_MODE_PASSTHROUGH;

	if (nb->kind == REMUS_NETBUF_REMUS)
		return remus_net_set(nb->nl, nb->ifb_ifindex, &mode, NULL,
				     NULL);
	return plug_op(nb, rtnl_qdisc_plug_release_indefinite);
}

const char *remus_netbuf_kind_name(enum remus_netbuf_kind kind)
{
	return kind == REMUS_NETBUF_PLUG ? "plug" : "remus";
}
