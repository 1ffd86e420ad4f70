// SPDX-License-Identifier: LGPL-2.1-or-later
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "link.h"

uint64_t remus_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void remus_cond_wait_ns(pthread_cond_t *c, pthread_mutex_t *m, uint64_t ns)
{
	struct timespec ts;

	/* The condition's clock is CLOCK_REALTIME (the default). */
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(ns / 1000000000ull);
	ts.tv_nsec += (long)(ns % 1000000000ull);
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_cond_timedwait(c, m, &ts);
}

int remus_poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
	uint64_t end = remus_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	int ret, left = timeout_ms;

	while ((ret = poll(fds, n, left)) < 0) {
		uint64_t now;

		if (errno != EINTR)
			return -errno;
		if (timeout_ms < 0)
			continue;
		/* Rounded up, as poll() does; past the end, one last look:
		 * the signal must not stand for a timeout unchecked. */
		now = remus_now_ns();
		left = now < end ? (int)((end - now + 999999) / 1000000) : 0;
	}
	return ret;
}

int remus_addr_parse(const char *s, struct remus_addr *a)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res;
	char host[256];
	const char *port, *h = host;
	size_t hl;
	int err;

	memset(a, 0, sizeof(*a));
	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (!end || end[1] != ':')
			return -EINVAL;
		hl = (size_t)(end - s - 1);
		if (hl >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		port = end + 2;
		hints.ai_flags |= AI_NUMERICHOST;
	} else {
		port = strrchr(s, ':');
		if (!port)
			return -EINVAL;
		hl = (size_t)(port - s);
		if (hl >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, hl);
		host[hl] = '\0';
		port++;
	}
	if (!*port || strspn(port, "0123456789") != strlen(port) ||
	    atoi(port) > 65535)
		return -EINVAL;
	if (!*host) {
		h = NULL;
		hints.ai_flags |= AI_PASSIVE;
		hints.ai_family = AF_INET6;
	}
	err = getaddrinfo(h, port, &hints, &res);
	if (err)
		return err == EAI_SYSTEM ? -errno : -EHOSTUNREACH;
	memcpy(&a->ss, res->ai_addr, res->ai_addrlen);
	a->len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

void remus_addr_format(const struct remus_addr *a, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned int port = 0;

	if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)&a->ss;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
		snprintf(buf, len, "%s:%u", host, port);
	} else {
		const struct sockaddr_in6 *in6 = (const void *)&a->ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
		snprintf(buf, len, "[%s]:%u", host, port);
	}
}

static void tune(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int wait_fd(int fd, short ev, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = ev };
	int n = remus_poll(&p, 1, timeout_ms);

	if (n < 0)
		return n;
	if (n == 0)
		return -ETIMEDOUT;
	return 0;
}

int remus_tcp_connect(const struct remus_addr *a, int timeout_ms)
{
	socklen_t sl = sizeof(int);
	int fd, err, soerr = 0;

	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
		if (errno != EINPROGRESS) {
			err = -errno;
			goto err;
		}
		err = wait_fd(fd, POLLOUT, timeout_ms);
		if (err)
			goto err;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 ||
		    soerr) {
			err = soerr ? -soerr : -errno;
			goto err;
		}
	}
	if (fcntl(fd, F_SETFL, 0) < 0) {
		err = -errno;
		goto err;
	}
	tune(fd);
	return fd;
err:
	close(fd);
	return err;
}

int remus_tcp_listen(const struct remus_addr *a)
{
	int fd, one = 1, zero = 0, err;

	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a->ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 ||
	    listen(fd, 4) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int remus_tcp_accept(int lfd, int timeout_ms, struct remus_addr *peer)
{
	struct remus_addr tmp;
	int fd, err;

	if (!peer)
		peer = &tmp;
	err = wait_fd(lfd, POLLIN, timeout_ms);
	if (err)
		return err;
	peer->len = sizeof(peer->ss);
	fd = accept4(lfd, (struct sockaddr *)&peer->ss, &peer->len,
		     SOCK_CLOEXEC);
	if (fd < 0)
		return -errno;
	tune(fd);
	return fd;
}

int remus_link_write(int fd, const void *buf, size_t len, int timeout_ms)
{
	const uint8_t *p = buf;
	int err;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return -errno;
		err = wait_fd(fd, POLLOUT, timeout_ms);
		if (err)
			return err;
	}
	return 0;
}

int remus_link_read_frame(int fd, struct remus_wire *w, struct remus_frame *f,
			  int timeout_ms)
{
	for (;;) {
		void *p;
		ssize_t want = remus_wire_rx_space(w, &p);
		ssize_t n;
		int ret;

		if (want < 0)
			return (int)want;
		n = recv(fd, p, (size_t)want, MSG_DONTWAIT);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			ret = wait_fd(fd, POLLIN, timeout_ms);
			if (ret)
				return ret;
			continue;
		}
		ret = remus_wire_rx_commit(w, (size_t)n, f);
		if (ret)
			return ret;
	}
}
