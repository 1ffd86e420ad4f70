// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proc/guest_proto.h"

static const char *const tracking_names[] = {
	[REMUS_GUEST_TRACK_NONE] = "none",
	[REMUS_GUEST_TRACK_UFFD_WP_ASYNC] = "uffd-wp-async",
};

const char *remus_guest_tracking_name(enum remus_guest_tracking t)
{
	if ((unsigned int)t >= sizeof(tracking_names) / sizeof(tracking_names[0]))
		return "?";
	return tracking_names[t];
}

int remus_guest_desc_format(const struct remus_guest_desc *d, char *buf,
			    size_t len)
{
	int n;

	n = snprintf(buf, len,
		     "remus-guest %u\n"
		     "pid %d\n"
		     "addr 0x%" PRIx64 "\n"
		     "size %" PRIu64 "\n"
		     "page-size %" PRIu32 "\n"
		     "tracking %s\n"
		     "uffd-features 0x%" PRIx64 "\n"
		     "restored %d\n"
		     "generation %" PRIu64 "\n",
		     REMUS_GUEST_DESC_VERSION, (int)d->pid, d->addr, d->size,
		     d->page_size, remus_guest_tracking_name(d->tracking),
		     d->uffd_features, d->restored ? 1 : 0, d->generation);
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return n;
}

/* A whole decimal or 0x-hex number, nothing trailing. */
static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (!*s || *s == '-' || *s == ' ')
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, &end, 0);
	if (errno || *end)
		return -EINVAL;
	return 0;
}

#define SEEN_PID	(1u << 0)
#define SEEN_ADDR	(1u << 1)
#define SEEN_SIZE	(1u << 2)
#define SEEN_PAGE	(1u << 3)
#define SEEN_TRACK	(1u << 4)
#define SEEN_REQUIRED	(SEEN_PID | SEEN_ADDR | SEEN_SIZE | SEEN_PAGE | SEEN_TRACK)

static int parse_line(char *line, struct remus_guest_desc *d, unsigned int *seen)
{
	char *val = strchr(line, ' ');
	uint64_t v;
	unsigned int t;

	if (!val)
		return -EINVAL;
	*val++ = '\0';
	if (!strcmp(line, "tracking")) {
		for (t = 0; t < sizeof(tracking_names) / sizeof(tracking_names[0]); t++) {
			if (!strcmp(val, tracking_names[t])) {
				d->tracking = t;
				*seen |= SEEN_TRACK;
				return 0;
			}
		}
		return -EINVAL;
	}
	if (strcmp(line, "pid") && strcmp(line, "addr") && strcmp(line, "size") &&
	    strcmp(line, "page-size") && strcmp(line, "uffd-features") &&
	    strcmp(line, "restored") && strcmp(line, "generation"))
		return 0;	/* a later version's key */
	if (parse_u64(val, &v))
		return -EINVAL;
	if (!strcmp(line, "pid")) {
		if (!v || v > INT32_MAX)
			return -EINVAL;
		d->pid = v;
		*seen |= SEEN_PID;
	} else if (!strcmp(line, "addr")) {
		d->addr = v;
		*seen |= SEEN_ADDR;
	} else if (!strcmp(line, "size")) {
		d->size = v;
		*seen |= SEEN_SIZE;
	} else if (!strcmp(line, "page-size")) {
		if (!v || v > UINT32_MAX || (v & (v - 1)))
			return -EINVAL;
		d->page_size = v;
		*seen |= SEEN_PAGE;
	} else if (!strcmp(line, "uffd-features")) {
		d->uffd_features = v;
	} else if (!strcmp(line, "restored")) {
		if (v > 1)
			return -EINVAL;
		d->restored = v;
	} else if (!strcmp(line, "generation")) {
		d->generation = v;
	}
	return 0;
}

int remus_guest_desc_parse(const char *buf, size_t len,
			   struct remus_guest_desc *out)
{
	char copy[REMUS_GUEST_DESC_MAX + 1], *line, *save;
	struct remus_guest_desc d = { 0 };
	unsigned int seen = 0;
	bool first = true;
	uint64_t v;

	if (len > REMUS_GUEST_DESC_MAX || memchr(buf, '\0', len))
		return -EINVAL;
	memcpy(copy, buf, len);
	copy[len] = '\0';
	/* only whole lines: a descriptor cut short must not parse */
	if (!len || copy[len - 1] != '\n')
		return -EINVAL;
	for (line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (first) {
			if (strncmp(line, "remus-guest ", 12) ||
			    parse_u64(line + 12, &v) || v != REMUS_GUEST_DESC_VERSION)
				return -EINVAL;
			d.version = v;
			first = false;
			continue;
		}
		if (parse_line(line, &d, &seen))
			return -EINVAL;
	}
	if (first || (seen & SEEN_REQUIRED) != SEEN_REQUIRED)
		return -EINVAL;
	if (!d.size || d.size % d.page_size || d.addr % d.page_size)
		return -EINVAL;
	*out = d;
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int remus_guest_desc_read(int fd, int timeout_ms, struct remus_guest_desc *d)
{
	int64_t deadline = timeout_ms >= 0 ? now_ms() + timeout_ms : 0;
	char buf[REMUS_GUEST_DESC_MAX + 1];
	size_t len = 0;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int wait = -1;
		ssize_t n;
		int ret;

		if (timeout_ms >= 0) {
			int64_t left = deadline - now_ms();

			if (left <= 0)
				return -ETIMEDOUT;
			wait = left > INT32_MAX ? INT32_MAX : (int)left;
		}
		ret = poll(&pfd, 1, wait);
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!ret)
			return -ETIMEDOUT;
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		if (!n)
			break;
		len += n;
		if (len == sizeof(buf))
			return -EINVAL;
	}
	if (!len)
		return -EPIPE;
	return remus_guest_desc_parse(buf, len, d);
}

int remus_guest_hdr_check(const struct remus_guest_hdr *hdr, uint64_t addr,
			  uint64_t size)
{
	if (memcmp(hdr->magic, REMUS_GUEST_HDR_MAGIC, sizeof(hdr->magic)) ||
	    hdr->version != REMUS_GUEST_HDR_VERSION ||
	    hdr->hdr_size != sizeof(*hdr))
		return -EINVAL;
	if ((addr && hdr->addr != addr) || (size && hdr->size != size))
		return -EINVAL;
	if (hdr->app_off < sizeof(*hdr) || hdr->app_off >= hdr->size)
		return -EINVAL;
	return 0;
}
