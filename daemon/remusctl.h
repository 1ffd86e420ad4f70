/* SPDX-License-Identifier: GPL-2.0 */
#ifndef REMUSCTL_H
#define REMUSCTL_H

#include <stdbool.h>
#include <stdint.h>

#include "json.h"
#include "nl.h"

#define EXIT_USAGE 2

struct ctl {
	const char *prog;
	bool json;
	struct remus_json j;
};

/* The subcommands, each in its own file. */
int ctl_net(struct ctl *c, int argc, char **argv);
int ctl_disk(struct ctl *c, int argc, char **argv);
int ctl_status(struct ctl *c, int argc, char **argv);

/* Shared by the subcommands (remusctl.c). */
int ctl_fail(struct ctl *c, const char *what, int err, const struct remus_nl *nl);
int ctl_usage_error(struct ctl *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int ctl_parse_u64(const char *s, uint64_t *v);
int ctl_open_nl(struct ctl *c, struct remus_nl *nl);
void ctl_print_buf(struct ctl *c, const struct remus_buf_info *info,
		   const char *label);
/* The per-epoch backlog as a JSON array; unit names the count. */
void ctl_json_epochs(struct remus_json *j, const struct remus_buf_info *b,
		     const char *unit);
int ctl_monitor(struct ctl *c, bool net, bool disk);

#endif /* REMUSCTL_H */
