// SPDX-License-Identifier: GPL-2.0
/*
 * lib/disk.c's record parser never trusts a length: every truncation,
 * every corrupted byte of a batch of records is refused without reading
 * past the bytes given; XXH64 matches its reference values. (Its agreement
 * with the kernel's checksums is proven by the replicate suite.)
 */
#include "kselftest_harness.h"
#include "disktest.h"

static size_t build(unsigned char *buf)
{
	struct remus_log_record *h = (void *)buf;
	size_t off = 0;
	int i;

	for (i = 0; i < 3; i++) {
		h = (void *)(buf + off);
		memset(h, 0, sizeof(*h));
		h->type = i == 2 ? REMUS_LOG_BARRIER : REMUS_LOG_WRITE;
		h->sectors = i == 2 ? 0 : 1 + i;
		h->sector = 10 * i;
		h->epoch = 1;
		h->seq = i + 1;
		if (h->sectors)
			fill_sectors((void *)(h + 1), h->sector, h->sectors, 1, i);
		remus_log_seal(h, h + 1);
		off += sizeof(*h) + h->sectors * SECT;
	}
	return off;
}

TEST(xxh64_reference_values)
{
	EXPECT_EQ(0xEF46DB3751D8E999ULL, remus_xxh64("", 0, 0));
	EXPECT_EQ(0x44BC2CF5AD770999ULL, remus_xxh64("abc", 3, 0));
}

TEST(every_truncation_and_flip_is_refused)
{
	unsigned char *buf = malloc(8192), *copy = malloc(8192);
	size_t len, cut, size, pos;
	int bit;

	ASSERT_TRUE(buf && copy);
	len = build(buf);
	/* whole: three records, each checked */
	for (pos = 0, cut = 0; pos < len; pos += size, cut++)
		ASSERT_EQ(0, remus_log_check(buf + pos, len - pos, &size));
	EXPECT_EQ(3, cut);
	/* any cut inside the first record is refused, from a copy sized so
	 * that a read past the end would show under a memory checker */
	size = sizeof(struct remus_log_record) + SECT;
	for (cut = 0; cut < size; cut++) {
		unsigned char *p = malloc(cut ? cut : 1);
		size_t got;

		memcpy(p, buf, cut);
		EXPECT_EQ(-EBADMSG, remus_log_check(p, cut, &got))
			TH_LOG("a record cut to %zu bytes passed", cut);
		free(p);
	}
	/* any flipped bit of the first record is refused */
	for (pos = 0; pos < size; pos++)
		for (bit = 0; bit < 8; bit++) {
			size_t got;

			memcpy(copy, buf, len);
			copy[pos] ^= 1 << bit;
			EXPECT_EQ(-EBADMSG, remus_log_check(copy, len, &got))
				TH_LOG("bit %d of byte %zu flipped passed", bit,
				       pos);
		}
	/* a length that claims more data than there is */
	memcpy(copy, buf, len);
	((struct remus_log_record *)copy)->sectors = REMUS_LOG_MAX_SECTORS;
	EXPECT_EQ(-EBADMSG, remus_log_check_fields(copy, len, &size));
	free(buf);
	free(copy);
}

TEST_HARNESS_MAIN
