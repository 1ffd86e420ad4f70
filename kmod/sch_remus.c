// SPDX-License-Identifier: GPL-2.0
/*
 * sch_remus: the network output buffer of a checkpointed guest.
 *
 * A guest protected by checkpoint replication must not let the world see
 * output of an execution that the backup could lose. Output enqueued
 * since the last barrier is the open epoch, tagged "open"; the daemon
 * inserts barrier e when it suspends the guest for checkpoint e, and the
 * barrier labels the open run e: what was produced before checkpoint e
 * belongs to epoch e, whatever numbers earlier barriers had. The daemon
 * releases through e when the backup has acknowledged checkpoint e:
 *
 *                 released R = 6        barrier B = 8
 *                         |                    |
 *   dequeue <-  [ e6 e6 ] | [ e7 e7 e7 ] [ e8 ] | [ o o o ... ]  <- enqueue
 *               let out     held                 open: held until a
 *                                                barrier closes them
 *
 * The queue is one FIFO; labels never decrease along it, so dequeue only
 * looks at the head: it goes out iff its epoch <= R. Any number of epochs
 * can be in flight, bounded only by the packet and byte limits; there is no
 * per-epoch slot as in sch_plug, which holds one. The open run is found
 * from q->open_head, so a barrier costs the open epoch's packets only.
 *
 * Over the limit a packet is dropped and counted (qdisc drops, overlimits
 * and the REMUS_STATS_A_OVERLIMIT_* counters), and the first drop of an
 * epoch raises a REMUS_EVENT_NET_OVERLIMIT event: never a silent loss.
 * Backpressure is not an option here: the guest's packets arrive through an
 * IFB redirect, which has nobody to push back on.
 *
 * In pass-through mode the tags are ignored and everything goes at once.
 * Control is over the `remus` generic netlink family (netlink.c); the tc
 * options only set limits and mode.
 */
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/skbuff.h>
#include <net/netlink.h>
#include <net/pkt_sched.h>
#include <net/sch_generic.h>

#include "remus.h"

/* Label of output that no barrier has closed yet. */
#define REMUS_TAG_OPEN		U64_MAX

#define REMUS_CB_PASSED		BIT(0)	/* entered in pass-through mode */
#define REMUS_CB_LET_OUT	BIT(1)	/* held, then let out by pass-through */

struct remus_skb_cb {
	u64 epoch;	/* the barrier that closed it, or REMUS_TAG_OPEN */
	u32 flags;	/* REMUS_CB_* */
};

struct remus_sched {
	u64 barrier;
	u64 released;
	u64 limit_bytes;
	u32 limit_pkts;
	u32 mode;
	u64 overlimit_epoch;	/* epoch of the last OVERLIMIT event */
	bool announced;		/* NET_CREATED was sent */
	struct sk_buff *open_head;	/* first packet of the open epoch */
	struct remus_counters c;
};

static struct remus_skb_cb *remus_cb(struct sk_buff *skb)
{
	qdisc_cb_private_validate(skb, sizeof(struct remus_skb_cb));
	return (struct remus_skb_cb *)qdisc_skb_cb(skb)->data;
}

static int remus_enqueue(struct sk_buff *skb, struct Qdisc *sch,
			 struct sk_buff **to_free)
{
	struct remus_sched *q = qdisc_priv(sch);
	unsigned int len = qdisc_pkt_len(skb);
	u64 open = q->barrier + 1;

	if (unlikely(sch->q.qlen >= q->limit_pkts ||
		     q->c.backlog_bytes + len > q->limit_bytes)) {
		q->c.overlimit_pkts++;
		q->c.overlimit_bytes += len;
		qdisc_qstats_overlimit(sch);
		if (q->overlimit_epoch != open) {
			q->overlimit_epoch = open;
			remus_nl_event_net(REMUS_EVENT_NET_OVERLIMIT,
					   qdisc_dev(sch), open, &q->c,
					   GFP_ATOMIC);
		}
		return qdisc_drop(skb, sch, to_free);
	}

	/*
	 * A held packet must not pin its socket: a namespace whose sockets
	 * sent it could never go away while it waits for a release.
	 */
	skb_orphan(skb);
	remus_cb(skb)->epoch = REMUS_TAG_OPEN;
	if (q->mode == REMUS_MODE_PASSTHROUGH) {
		remus_cb(skb)->flags = REMUS_CB_PASSED;
		q->c.passed_pkts++;
		q->c.passed_bytes += len;
	} else {
		remus_cb(skb)->flags = 0;
		if (!q->open_head)
			q->open_head = skb;
		q->c.queued_pkts++;
		q->c.queued_bytes += len;
	}
	q->c.backlog_pkts++;
	q->c.backlog_bytes += len;
	return qdisc_enqueue_tail(skb, sch);
}

/* The epoch a packet is reported in: 0 for what goes out regardless. */
static u64 remus_epoch_of(const struct remus_sched *q, struct sk_buff *skb)
{
	const struct remus_skb_cb *cb = remus_cb(skb);

	if (cb->flags)
		return 0;
	return cb->epoch == REMUS_TAG_OPEN ? q->barrier + 1 : cb->epoch;
}

static bool remus_releasable(const struct remus_sched *q, struct sk_buff *skb)
{
	const struct remus_skb_cb *cb = remus_cb(skb);

	return q->mode == REMUS_MODE_PASSTHROUGH || cb->flags ||
	       (cb->epoch != REMUS_TAG_OPEN && cb->epoch <= q->released);
}

static struct sk_buff *remus_peek(struct Qdisc *sch)
{
	struct remus_sched *q = qdisc_priv(sch);
	struct sk_buff *skb = qdisc_peek_head(sch);

	return skb && remus_releasable(q, skb) ? skb : NULL;
}

static struct sk_buff *remus_dequeue(struct Qdisc *sch)
{
	struct remus_sched *q = qdisc_priv(sch);
	struct sk_buff *skb;
	unsigned int len;

	skb = remus_peek(sch);
	if (!skb)
		return NULL;
	if (skb == q->open_head)
		q->open_head = skb->next;
	skb = qdisc_dequeue_head(sch);
	len = qdisc_pkt_len(skb);
	q->c.backlog_pkts--;
	q->c.backlog_bytes -= len;
	if (!(remus_cb(skb)->flags & REMUS_CB_PASSED)) {
		q->c.released_pkts++;
		q->c.released_bytes += len;
	}
	return skb;
}

/* Drop everything held. Caller holds RTNL and the tree lock. */
static void remus_purge(struct Qdisc *sch)
{
	struct remus_sched *q = qdisc_priv(sch);

	q->c.discarded_pkts += sch->q.qlen;
	q->c.discarded_bytes += q->c.backlog_bytes;
	sch->qstats.drops += sch->q.qlen;
	__qdisc_reset_queue(&sch->q);
	q->open_head = NULL;
	sch->qstats.backlog = 0;
	q->c.backlog_pkts = 0;
	q->c.backlog_bytes = 0;
}

static void remus_reset(struct Qdisc *sch)
{
	remus_purge(sch);
}

/* Caller holds the tree lock. */
static void remus_set_mode(struct Qdisc *sch, u32 mode)
{
	struct remus_sched *q = qdisc_priv(sch);
	struct sk_buff *skb;

	if (mode == q->mode)
		return;
	/*
	 * What is held when pass-through starts is let out; mark it so, or
	 * a quick switch back to buffering would hold it again. It still
	 * counts as released, not passed: it was buffered.
	 */
	if (mode == REMUS_MODE_PASSTHROUGH) {
		for (skb = sch->q.head; skb; skb = skb->next)
			if (!remus_cb(skb)->flags)
				remus_cb(skb)->flags = REMUS_CB_LET_OUT;
		q->open_head = NULL;
	}
	q->mode = mode;
}

static const struct nla_policy remus_tc_policy[TCA_REMUS_MAX + 1] = {
	[TCA_REMUS_LIMIT_PKTS]	= NLA_POLICY_MIN(NLA_U32, 1),
	[TCA_REMUS_LIMIT_BYTES]	= NLA_POLICY_MIN(NLA_U64, 1),
	[TCA_REMUS_MODE]	= NLA_POLICY_MAX(NLA_U32, REMUS_MODE_MAX),
	[TCA_REMUS_BARRIER]	= { .type = NLA_REJECT },
	[TCA_REMUS_RELEASED]	= { .type = NLA_REJECT },
};

static int remus_change(struct Qdisc *sch, struct nlattr *opt,
			struct netlink_ext_ack *extack)
{
	struct nlattr *tb[TCA_REMUS_MAX + 1];
	u32 mode, pkts;
	u64 bytes;
	int err;

	if (!opt)
		return 0;
	/* tc(8) sends TCA_OPTIONS without NLA_F_NESTED, as to every qdisc. */
	err = nla_parse_nested_deprecated(tb, TCA_REMUS_MAX, opt,
					  remus_tc_policy, extack);
	if (err)
		return err;
	if (tb[TCA_REMUS_MODE])
		mode = nla_get_u32(tb[TCA_REMUS_MODE]);
	if (tb[TCA_REMUS_LIMIT_PKTS])
		pkts = nla_get_u32(tb[TCA_REMUS_LIMIT_PKTS]);
	if (tb[TCA_REMUS_LIMIT_BYTES])
		bytes = nla_get_u64(tb[TCA_REMUS_LIMIT_BYTES]);
	return remus_qdisc_set(sch, tb[TCA_REMUS_MODE] ? &mode : NULL,
			       tb[TCA_REMUS_LIMIT_PKTS] ? &pkts : NULL,
			       tb[TCA_REMUS_LIMIT_BYTES] ? &bytes : NULL);
}

static int remus_init(struct Qdisc *sch, struct nlattr *opt,
		      struct netlink_ext_ack *extack)
{
	struct remus_sched *q = qdisc_priv(sch);
	int err;

	q->limit_pkts = REMUS_DEFAULT_LIMIT_PKTS;
	q->limit_bytes = REMUS_DEFAULT_LIMIT_BYTES;
	q->mode = REMUS_MODE_BUFFER;

	err = remus_change(sch, opt, extack);
	if (err)
		return err;

	q->announced = true;
	remus_nl_event_net(REMUS_EVENT_NET_CREATED, qdisc_dev(sch), 0, NULL,
			   GFP_KERNEL);
	return 0;
}

static void remus_destroy(struct Qdisc *sch)
{
	struct remus_sched *q = qdisc_priv(sch);

	if (q->announced)
		remus_nl_event_net(REMUS_EVENT_NET_DESTROYED, qdisc_dev(sch),
				   q->released, &q->c, GFP_KERNEL);
}

static int remus_dump(struct Qdisc *sch, struct sk_buff *skb)
{
	struct remus_state st = {};
	struct nlattr *opts;

	remus_qdisc_snapshot(sch, &st);
	opts = nla_nest_start_noflag(skb, TCA_OPTIONS);
	if (!opts)
		return -EMSGSIZE;
	if (nla_put_u32(skb, TCA_REMUS_LIMIT_PKTS, st.limit_pkts) ||
	    nla_put_u64_64bit(skb, TCA_REMUS_LIMIT_BYTES, st.limit_bytes,
			      TCA_REMUS_PAD) ||
	    nla_put_u32(skb, TCA_REMUS_MODE, st.mode) ||
	    nla_put_u64_64bit(skb, TCA_REMUS_BARRIER, st.barrier,
			      TCA_REMUS_PAD) ||
	    nla_put_u64_64bit(skb, TCA_REMUS_RELEASED, st.released,
			      TCA_REMUS_PAD)) {
		nla_nest_cancel(skb, opts);
		return -EMSGSIZE;
	}
	return nla_nest_end(skb, opts);
}

static int remus_dump_stats(struct Qdisc *sch, struct gnet_dump *d)
{
	struct remus_state st = {};
	struct tc_remus_xstats xs = {};
	struct sk_buff *skb;
	u64 last = U64_MAX;

	remus_qdisc_snapshot(sch, &st);
	xs.barrier = st.barrier;
	xs.released = st.released;
	xs.released_pkts = st.c.released_pkts;
	xs.overlimit_pkts = st.c.overlimit_pkts;
	xs.discarded_pkts = st.c.discarded_pkts;
	xs.passed_pkts = st.c.passed_pkts;
	xs.mode = st.mode;

	sch_tree_lock(sch);
	for (skb = sch->q.head; skb; skb = skb->next) {
		u64 e = remus_epoch_of(qdisc_priv(sch), skb);

		if (e != last)
			xs.epochs_held++;
		last = e;
	}
	sch_tree_unlock(sch);
	return gnet_stats_copy_app(d, &xs, sizeof(xs));
}

static struct Qdisc_ops remus_qdisc_ops __read_mostly = {
	.id		= REMUS_QDISC_KIND,
	.priv_size	= sizeof(struct remus_sched),
	.enqueue	= remus_enqueue,
	.dequeue	= remus_dequeue,
	.peek		= remus_peek,
	.init		= remus_init,
	.change		= remus_change,
	.reset		= remus_reset,
	.destroy	= remus_destroy,
	.dump		= remus_dump,
	.dump_stats	= remus_dump_stats,
	.owner		= THIS_MODULE,
};

bool remus_is_qdisc(const struct Qdisc *sch)
{
	return sch->ops == &remus_qdisc_ops;
}

void remus_qdisc_snapshot(struct Qdisc *sch, struct remus_state *st)
{
	struct remus_sched *q = qdisc_priv(sch);
	struct remus_epoch_backlog *ep = NULL;
	struct sk_buff *skb;
	unsigned int n = 0;

	sch_tree_lock(sch);
	st->barrier = q->barrier;
	st->released = q->released;
	st->limit_pkts = q->limit_pkts;
	st->limit_bytes = q->limit_bytes;
	st->mode = q->mode;
	st->c = q->c;
	/* Tags never decrease along the queue: equal tags are adjacent. */
	for (skb = sch->q.head; skb && st->epochs; skb = skb->next) {
		u64 e = remus_epoch_of(q, skb);

		if (!ep || ep->epoch != e) {
			if (n == st->max_epochs)
				break;
			ep = &st->epochs[n++];
			ep->epoch = e;
			ep->pkts = 0;
			ep->bytes = 0;
		}
		ep->pkts++;
		ep->bytes += qdisc_pkt_len(skb);
	}
	st->nr_epochs = n;
	sch_tree_unlock(sch);
}

int remus_qdisc_barrier(struct Qdisc *sch, u64 epoch,
			const struct nlattr *attr,
			struct netlink_ext_ack *extack)
{
	struct remus_sched *q = qdisc_priv(sch);
	int err;

	sch_tree_lock(sch);
	err = remus_epoch_check_barrier(q->barrier, epoch, attr, extack);
	if (!err) {
		struct sk_buff *skb;

		/* The open run is epoch `epoch` now, whatever came before. */
		for (skb = q->open_head; skb; skb = skb->next)
			remus_cb(skb)->epoch = epoch;
		q->open_head = NULL;
		q->barrier = epoch;
		q->c.barriers++;
	}
	sch_tree_unlock(sch);
	return err;
}

int remus_qdisc_release(struct Qdisc *sch, u64 epoch,
			const struct nlattr *attr,
			struct netlink_ext_ack *extack)
{
	struct remus_sched *q = qdisc_priv(sch);
	bool moved = false;
	int err;

	sch_tree_lock(sch);
	err = remus_epoch_check_release(q->barrier, epoch, attr, extack);
	if (!err && epoch > q->released) {
		q->released = epoch;
		q->c.releases++;
		moved = true;
		/* Scheduled under the lock: the unlock runs the softirq. */
		__netif_schedule(sch);
	}
	sch_tree_unlock(sch);
	if (moved) {
		remus_nl_event_net(REMUS_EVENT_NET_RELEASED, qdisc_dev(sch),
				   epoch, NULL, GFP_KERNEL);
	}
	return err;
}

void remus_qdisc_discard(struct Qdisc *sch)
{
	ASSERT_RTNL();
	sch_tree_lock(sch);
	remus_purge(sch);
	sch_tree_unlock(sch);
}

int remus_qdisc_set(struct Qdisc *sch, const u32 *mode, const u32 *limit_pkts,
		    const u64 *limit_bytes)
{
	struct remus_sched *q = qdisc_priv(sch);

	sch_tree_lock(sch);
	if (limit_pkts)
		q->limit_pkts = *limit_pkts;
	if (limit_bytes)
		q->limit_bytes = *limit_bytes;
	if (mode)
		remus_set_mode(sch, *mode);
	sch_tree_unlock(sch);
	if (mode && *mode == REMUS_MODE_PASSTHROUGH)
		__netif_schedule(sch);
	return 0;
}

int remus_qdisc_init(void)
{
	BUILD_BUG_ON(sizeof(struct remus_skb_cb) > QDISC_CB_PRIV_LEN);
	return register_qdisc(&remus_qdisc_ops);
}

void remus_qdisc_exit(void)
{
	unregister_qdisc(&remus_qdisc_ops);
}

MODULE_ALIAS("sch_remus");
