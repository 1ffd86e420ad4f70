// SPDX-License-Identifier: LGPL-2.1-or-later
#include <math.h>
#include <inttypes.h>

#include "json.h"

void remus_json_init(struct remus_json *j, FILE *f)
{
	j->f = f;
	j->depth = 0;
	j->first[0] = true;
}

static void put_escaped(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* Separator and name of the next value at the current depth. */
static void key(struct remus_json *j, const char *name)
{
	if (!j->first[j->depth])
		fputc(',', j->f);
	j->first[j->depth] = false;
	if (name) {
		put_escaped(j->f, name);
		fputc(':', j->f);
	}
}

static void open(struct remus_json *j, const char *name, char c)
{
	key(j, name);
	fputc(c, j->f);
	if (j->depth < REMUS_JSON_DEPTH - 1)
		j->depth++;
	j->first[j->depth] = true;
}

static void close_(struct remus_json *j, char c)
{
	fputc(c, j->f);
	if (j->depth > 0)
		j->depth--;
	if (j->depth == 0)
		fputc('\n', j->f);
}

void remus_json_obj_start(struct remus_json *j, const char *name)
{
	open(j, name, '{');
}

void remus_json_obj_end(struct remus_json *j)
{
	close_(j, '}');
}

void remus_json_arr_start(struct remus_json *j, const char *name)
{
	open(j, name, '[');
}

void remus_json_arr_end(struct remus_json *j)
{
	close_(j, ']');
}

void remus_json_str(struct remus_json *j, const char *name, const char *v)
{
	key(j, name);
	put_escaped(j->f, v ? v : "");
}

void remus_json_u64(struct remus_json *j, const char *name, uint64_t v)
{
	key(j, name);
	fprintf(j->f, "%" PRIu64, v);
}

void remus_json_i64(struct remus_json *j, const char *name, int64_t v)
{
	key(j, name);
	fprintf(j->f, "%" PRId64, v);
}

void remus_json_double(struct remus_json *j, const char *name, double v)
{
	key(j, name);
	if (isfinite(v))
		fprintf(j->f, "%.6g", v);
	else
		fputs("null", j->f);
}

void remus_json_bool(struct remus_json *j, const char *name, bool v)
{
	key(j, name);
	fputs(v ? "true" : "false", j->f);
}

void remus_json_null(struct remus_json *j, const char *name)
{
	key(j, name);
	fputs("null", j->f);
}
