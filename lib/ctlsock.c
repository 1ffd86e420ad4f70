// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctlsock.h"

#define MAX_WORDS 4

int remus_ctl_parse(const char *buf, size_t len, struct remus_ctl_req *req)
{
	char line[REMUS_CTL_LINE_MAX + 1];
	char *words[MAX_WORDS], *save = NULL, *w;
	const char *lf;
	size_t n, i;
	int nw = 0;

	lf = memchr(buf, '\n', len < REMUS_CTL_LINE_MAX ? len :
			       REMUS_CTL_LINE_MAX);
	if (!lf)
		return len >= REMUS_CTL_LINE_MAX ? -EMSGSIZE : 0;
	n = (size_t)(lf - buf);
	for (i = 0; i < n; i++)
		if (buf[i] < 0x20 || buf[i] > 0x7e)
			return -EINVAL;	/* printable ASCII only, no NUL */
	memcpy(line, buf, n);
	line[n] = '\0';

	for (w = strtok_r(line, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		if (nw == MAX_WORDS)
			return -EINVAL;
		words[nw++] = w;
	}
	if (!nw)
		return -EINVAL;

	memset(req, 0, sizeof(*req));
	if (!strcmp(words[0], "status")) {
		req->verb = REMUS_CTL_STATUS;
		for (i = 1; i < (size_t)nw; i++) {
			if (strcmp(words[i], "json"))
				return -EINVAL;
			req->json = true;
		}
	} else if (!strcmp(words[0], "stop") && nw == 1) {
		req->verb = REMUS_CTL_STOP;
	} else if (!strcmp(words[0], "ping") && nw == 1) {
		req->verb = REMUS_CTL_PING;
	} else {
		return -EINVAL;
	}
	return (int)n + 1;
}

int remus_ctl_path(const char *name, char *buf, size_t len)
{
	struct sockaddr_un sun;
	int n;

	if (!name || !*name || strchr(name, '/'))
		return -EINVAL;
	n = snprintf(buf, len, REMUS_CTL_DIR "/%s.sock", name);
	if (n < 0 || (size_t)n >= len || (size_t)n >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	return 0;
}

static int fill_addr(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	strcpy(sun->sun_path, path);
	return 0;
}

int remus_ctl_listen(const char *path)
{
	struct sockaddr_un sun;
	int fd, err;

	err = fill_addr(&sun, path);
	if (err)
		return err;
	if (!strncmp(path, REMUS_CTL_DIR "/", strlen(REMUS_CTL_DIR) + 1))
		mkdir(REMUS_CTL_DIR, 0755);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    chmod(path, 0600) < 0 || listen(fd, 8) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int remus_ctl_request(const char *path, const char *line)
{
	struct sockaddr_un sun;
	size_t len = strlen(line), off = 0;
	int fd, err;

	err = fill_addr(&sun, path);
	if (err)
		return err;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		goto err;
	while (off < len) {
		ssize_t n = write(fd, line + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto err;
		off += (size_t)n;
	}
	return fd;
err:
	err = -errno;
	close(fd);
	return err;
}
