/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libremus: the replication link's transport: TCP connections and whole
 * frames over them with deadlines. Framing and authentication are wire.h.
 */
#ifndef REMUS_LINK_H
#define REMUS_LINK_H

#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "wire.h"

struct remus_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* "host:port", "[v6]:port" or ":port" (any address). Numeric hosts, or
 * names through getaddrinfo. -EINVAL for a malformed string. */
int remus_addr_parse(const char *s, struct remus_addr *a);
void remus_addr_format(const struct remus_addr *a, char *buf, size_t len);

/* Connected TCP socket (TCP_NODELAY), or -errno (-ETIMEDOUT). */
int remus_tcp_connect(const struct remus_addr *a, int timeout_ms);
/* Listening TCP socket, SO_REUSEADDR, or -errno. */
int remus_tcp_listen(const struct remus_addr *a);
/* Accept with a deadline (-1: none): a connected fd, or -errno. */
int remus_tcp_accept(int lfd, int timeout_ms, struct remus_addr *peer);

/* Write all of buf; -ETIMEDOUT if the peer takes nothing for timeout_ms. */
int remus_link_write(int fd, const void *buf, size_t len, int timeout_ms);
/*
 * Read until one whole verified frame is in (1, *f valid until the next
 * call) or the peer was silent for timeout_ms (-ETIMEDOUT), closed the
 * connection (-ECONNRESET), or the stream broke (-errno from wire.h).
 */
int remus_link_read_frame(int fd, struct remus_wire *w, struct remus_frame *f,
			  int timeout_ms);

uint64_t remus_now_ns(void);
/* Wait on @c, @m held, for at most @ns: woken, timed out or spuriously
 * back, the caller checks its condition again. */
void remus_cond_wait_ns(pthread_cond_t *c, pthread_mutex_t *m, uint64_t ns);
/*
 * poll() for timeout_ms in all (-1: no limit). A signal is no answer: the
 * wait goes on for what is left of it, never longer. poll()'s result (0:
 * the time is up), or -errno.
 */
int remus_poll(struct pollfd *fds, nfds_t n, int timeout_ms);

#endif /* REMUS_LINK_H */
