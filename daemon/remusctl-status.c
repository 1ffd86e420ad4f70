// SPDX-License-Identifier: GPL-2.0
/*
 * remusctl status: what a running remusd says about itself, through its
 * control socket.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctlsock.h"
#include "remusctl.h"

static int ctl_request(struct ctl *c, const char *path, const char *line)
{
	char buf[4096];
	ssize_t n;
	int fd;

	fd = remus_ctl_request(path, line);
	if (fd == -ENOENT || fd == -ECONNREFUSED) {
		fprintf(stderr, "%s: no remusd listens on %s\n", c->prog, path);
		return EXIT_FAILURE;
	}
	if (fd < 0)
		return ctl_fail(c, path, fd, NULL);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, stdout);
	close(fd);
	if (n < 0)
		return ctl_fail(c, "read", -errno, NULL);
	return EXIT_SUCCESS;
}

int ctl_status(struct ctl *c, int argc, char **argv)
{
	const char *name = "remusd", *path = NULL, *verb = "status";
	char buf[128];
	int i, err;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "socket") && i + 1 < argc)
			path = argv[++i];
		else if (!strcmp(argv[i], "stop"))
			verb = "stop";
		else if (!strcmp(argv[i], "help")) {
			printf("Usage: remusctl [ -j ] status [ NAME ] [ socket PATH ] [ stop ]\n");
			return EXIT_SUCCESS;
		} else if (argv[i][0] != '-')
			name = argv[i];
		else
			return ctl_usage_error(c, "status: unexpected \"%s\"",
					       argv[i]);
	}
	if (!path) {
		err = remus_ctl_path(name, buf, sizeof(buf));
		if (err)
			return ctl_usage_error(c, "status: bad name \"%s\"",
					       name);
		path = buf;
	}
	if (!strcmp(verb, "stop"))
		return ctl_request(c, path, "stop\n");
	return ctl_request(c, path, c->json ? "status json\n" : "status\n");
}
