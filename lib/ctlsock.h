/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libremus: the daemon's local control socket.
 *
 * A stream unix socket, /run/remus/<name>.sock by default. A client sends
 * one request line and reads the reply until the daemon closes:
 *
 *   request := verb [ SP arg ]* LF        at most REMUS_CTL_LINE_MAX bytes
 *   verb    := "status" | "stop" | "ping"
 *   status args: "json" for JSON
 *   stop args:   none
 *
 * Requests come from anyone who can open the socket (mode 0600, root), but
 * the parser still treats them as untrusted bytes.
 */
#ifndef REMUS_CTLSOCK_H
#define REMUS_CTLSOCK_H

#include <stdbool.h>
#include <stddef.h>

#define REMUS_CTL_DIR		"/run/remus"
#define REMUS_CTL_LINE_MAX	256

enum remus_ctl_verb {
	REMUS_CTL_STATUS,
	REMUS_CTL_STOP,
	REMUS_CTL_PING,
};

struct remus_ctl_req {
	enum remus_ctl_verb verb;
	bool json;
};

/*
 * Parse one request from buf[0..len). Returns the bytes consumed (through
 * the LF), 0 if the line is not complete yet, -EINVAL for a malformed
 * request, -EMSGSIZE if no LF came within REMUS_CTL_LINE_MAX bytes.
 */
int remus_ctl_parse(const char *buf, size_t len, struct remus_ctl_req *req);

/* The socket path of daemon instance name into buf. */
int remus_ctl_path(const char *name, char *buf, size_t len);

/* Listening socket for the daemon; a stale socket file is replaced. */
int remus_ctl_listen(const char *path);
/* Connect, send the request line, return the fd to read the reply from. */
int remus_ctl_request(const char *path, const char *line);

#endif /* REMUS_CTLSOCK_H */
