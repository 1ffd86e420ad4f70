/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libremus: a small streaming JSON writer, for the -j output of the tools
 * and the daemon's status. It writes to the FILE the caller gives; names
 * are NULL inside arrays.
 */
#ifndef REMUS_JSON_H
#define REMUS_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define REMUS_JSON_DEPTH 16

struct remus_json {
	FILE *f;
	int depth;
	bool first[REMUS_JSON_DEPTH];
};

void remus_json_init(struct remus_json *j, FILE *f);
void remus_json_obj_start(struct remus_json *j, const char *name);
void remus_json_obj_end(struct remus_json *j);
void remus_json_arr_start(struct remus_json *j, const char *name);
void remus_json_arr_end(struct remus_json *j);
void remus_json_str(struct remus_json *j, const char *name, const char *v);
void remus_json_u64(struct remus_json *j, const char *name, uint64_t v);
void remus_json_i64(struct remus_json *j, const char *name, int64_t v);
void remus_json_double(struct remus_json *j, const char *name, double v);
void remus_json_bool(struct remus_json *j, const char *name, bool v);
void remus_json_null(struct remus_json *j, const char *name);

#endif /* REMUS_JSON_H */
