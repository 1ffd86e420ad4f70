/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Minimal TAP for the wire and compression unit tests: one test function
 * is one TAP line; ASSERT_* stop the function at the first mismatch and
 * print what was expected and what was seen.
 */
#ifndef TEST_WIRE_TAP_H
#define TEST_WIRE_TAP_H

#include <stdio.h>
#include <string.h>

struct tcase {
	const char *name;
	int (*fn)(void);
};

#define ASSERT_EQ(expected, seen)                                            \
	do {                                                                  \
		long long _e = (long long)(expected), _s = (long long)(seen);    \
		if (_e != _s) {                                               \
			printf("# %s:%d: %s\n# expected %lld, saw %lld\n",    \
			       __FILE__, __LINE__, #seen, _e, _s);             \
			return 1;                                             \
		}                                                             \
	} while (0)

#define ASSERT_TRUE(cond)                                                    \
	do {                                                                  \
		if (!(cond)) {                                                \
			printf("# %s:%d: expected %s, saw false\n", __FILE__,  \
			       __LINE__, #cond);                               \
			return 1;                                             \
		}                                                             \
	} while (0)

#define ASSERT_MEM(expected, seen, len)                                      \
	do {                                                                  \
		const unsigned char *_e = (const void *)(expected);           \
		const unsigned char *_s = (const void *)(seen);               \
		for (size_t _i = 0; _i < (size_t)(len); _i++) {               \
			if (_e[_i] != _s[_i]) {                               \
				printf("# %s:%d: %s differs at byte %zu\n"    \
				       "# expected 0x%02x, saw 0x%02x\n",     \
				       __FILE__, __LINE__, #seen, _i, _e[_i], \
				       _s[_i]);                                \
				return 1;                                     \
			}                                                     \
		}                                                             \
	} while (0)

#define TCASE(fn) { #fn, fn }

static inline int tap_run(const struct tcase *t, size_t n)
{
	int failed = 0;

	printf("TAP version 13\n1..%zu\n", n);
	fflush(stdout);
	for (size_t i = 0; i < n; i++) {
		int r = t[i].fn();

		printf("%sok %zu %s\n", r ? "not " : "", i + 1, t[i].name);
		fflush(stdout);
		failed += !!r;
	}
	printf("# %zu passed, %d failed\n", n - (size_t)failed, failed);
	return failed ? 1 : 0;
}

/* xorshift64*: deterministic test data without global state. */
static inline unsigned long long rnd_next(unsigned long long *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

static inline void rnd_fill(unsigned long long *s, void *buf, size_t len)
{
	unsigned char *p = buf;

	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(rnd_next(s) >> 56);
}

#endif /* TEST_WIRE_TAP_H */
