// SPDX-License-Identifier: GPL-2.0
/*
 * The "remus" generic netlink family is registered with the version and
 * multicast group the uapi header promises, and the lookup used to find it
 * tells a missing family from a present one (checked on nlctrl and on a
 * name nobody registers, so the probe itself is known to work).
 *
 * Also a helper for shell tests:
 *   genl_family query NAME    print the family, exit 0; 1 if there is no
 *                             such family (ENOENT); 2 on any other error
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>

#include <linux/remus.h>

#include "kselftest_harness.h"

#define MAX_GROUPS 16

struct family {
	unsigned int id;
	unsigned int version;
	unsigned int maxattr;
	unsigned int n_ops;
	unsigned int n_groups;
	char name[GENL_NAMSIZ];
	char groups[MAX_GROUPS][GENL_NAMSIZ];
};

static int group_cb(const struct nlattr *grp, struct family *fam)
{
	const struct nlattr *a;

	mnl_attr_for_each_nested(a, grp) {
		if (mnl_attr_get_type(a) != CTRL_ATTR_MCAST_GRP_NAME ||
		    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0)
			continue;
		if (fam->n_groups < MAX_GROUPS)
			snprintf(fam->groups[fam->n_groups++], GENL_NAMSIZ,
				 "%s", mnl_attr_get_str(a));
	}
	return 0;
}

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	struct family *fam = data;
	const struct nlattr *a, *n;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		switch (mnl_attr_get_type(a)) {
		case CTRL_ATTR_FAMILY_ID:
			if (mnl_attr_validate(a, MNL_TYPE_U16) >= 0)
				fam->id = mnl_attr_get_u16(a);
			break;
		case CTRL_ATTR_FAMILY_NAME:
			if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0)
				snprintf(fam->name, sizeof(fam->name), "%s",
					 mnl_attr_get_str(a));
			break;
		case CTRL_ATTR_VERSION:
			if (mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
				fam->version = mnl_attr_get_u32(a);
			break;
		case CTRL_ATTR_MAXATTR:
			if (mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
				fam->maxattr = mnl_attr_get_u32(a);
			break;
		case CTRL_ATTR_OPS:
			mnl_attr_for_each_nested(n, a)
				fam->n_ops++;
			break;
		case CTRL_ATTR_MCAST_GROUPS:
			mnl_attr_for_each_nested(n, a)
				group_cb(n, fam);
			break;
		}
	}
	return MNL_CB_OK;
}

/* CTRL_CMD_GETFAMILY by name: 0 and *fam filled, or -errno. */
static int resolve_family(const char *name, struct family *fam)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct genlmsghdr *genl;
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	unsigned int seq, portid;
	int ret, err = 0;

	memset(fam, 0, sizeof(*fam));
	nl = mnl_socket_open(NETLINK_GENERIC);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto out;
	}
	portid = mnl_socket_get_portid(nl);

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = GENL_ID_CTRL;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq = time(NULL);
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = CTRL_CMD_GETFAMILY;
	genl->version = 1;
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, name);

	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		err = -errno;
		goto out;
	}
	do {
		ret = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (ret < 0) {
			err = -errno;
			goto out;
		}
		ret = mnl_cb_run(buf, ret, seq, portid, family_cb, fam);
	} while (ret > 0);
	if (ret < 0)
		err = -errno;
	else if (!fam->id)
		err = -EPROTO;
out:
	mnl_socket_close(nl);
	return err;
}

static void print_family(const struct family *fam)
{
	unsigned int i;

	printf("family %s id %u version %u maxattr %u ops %u groups",
	       fam->name, fam->id, fam->version, fam->maxattr, fam->n_ops);
	for (i = 0; i < fam->n_groups; i++)
		printf(" %s", fam->groups[i]);
	printf("\n");
}

static int has_group(const struct family *fam, const char *group)
{
	unsigned int i;

	for (i = 0; i < fam->n_groups; i++)
		if (!strcmp(fam->groups[i], group))
			return 1;
	return 0;
}

TEST(nlctrl_resolves)
{
	struct family fam;
	int err = resolve_family("nlctrl", &fam);

	ASSERT_EQ(0, err) TH_LOG("resolving nlctrl: %s", strerror(-err));
	EXPECT_EQ((unsigned int)GENL_ID_CTRL, fam.id);
	EXPECT_STREQ("nlctrl", fam.name);
}

TEST(unknown_family_is_enoent)
{
	struct family fam;

	EXPECT_EQ(-ENOENT, resolve_family("remus-no-such", &fam));
}

TEST(remus_family_registered)
{
	struct family fam;
	int err = resolve_family(REMUS_GENL_NAME, &fam);

	ASSERT_EQ(0, err) TH_LOG("family \"%s\" not found (%s): is remus.ko loaded?",
				 REMUS_GENL_NAME, strerror(-err));
	print_family(&fam);
	EXPECT_STREQ(REMUS_GENL_NAME, fam.name);
	EXPECT_EQ((unsigned int)REMUS_GENL_VERSION, fam.version);
	EXPECT_TRUE(has_group(&fam, REMUS_GENL_MCGRP_EVENTS))
		TH_LOG("multicast group \"%s\" missing", REMUS_GENL_MCGRP_EVENTS);
	EXPECT_LT(0U, fam.n_ops) TH_LOG("the family lists no operations");
}

/* What TEST_HARNESS_MAIN does, for a main() that also serves as a tool. */
static void __attribute__((constructor)) constructor_order_last(void)
{
	if (!__constructor_order)
		__constructor_order = _CONSTRUCTOR_ORDER_BACKWARD;
}

int main(int argc, char **argv)
{
	struct family fam;
	int err;

	if (argc == 3 && !strcmp(argv[1], "query")) {
		err = resolve_family(argv[2], &fam);
		if (err == -ENOENT) {
			fprintf(stderr, "genl_family: %s: no such family\n", argv[2]);
			return 1;
		}
		if (err) {
			fprintf(stderr, "genl_family: %s: %s\n", argv[2],
				strerror(-err));
			return 2;
		}
		print_family(&fam);
		return 0;
	}
	if (argc > 1) {
		fprintf(stderr, "usage: genl_family [query NAME]\n");
		return 2;
	}
	return test_harness_run(argc, argv);
}
