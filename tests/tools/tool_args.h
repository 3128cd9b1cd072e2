/*
 * tool_args — what the test and benchmark tools (tests/tools) share for their
 * command lines: a bounded number option, and a password given as the first line
 * of standard input. Each tool is one file that includes this once, after
 * defining TOOL_NAME (its name, for the messages).
 */
#ifndef PETREL_TOOL_ARGS_H
#define PETREL_TOOL_ARGS_H

#include "core/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOOL_MAX_PASSWORD 1024 /* octets of the password line */

/* The value v of option opt, a number from min to max; exits 2 otherwise. */
static inline uint64_t tool_number(const char *opt, const char *v, uint64_t min, uint64_t max)
{
	uint64_t n;
	if (!v || !str_to_u64(str_c(v), &n) || n < min || n > max) {
		fprintf(stderr, "%s: %s needs a number from %llu to %llu\n", TOOL_NAME, opt,
		        (unsigned long long)min, (unsigned long long)max);
		exit(2);
	}
	return n;
}

/* The first line of standard input, without its line end (LF or CRLF); NULL if
   it is empty, longer than TOOL_MAX_PASSWORD, or holds a NUL or a CR. */
static inline char *tool_read_password(void)
{
	struct buf b = BUF_INIT;
	int ch;
	while ((ch = getchar()) != EOF && ch != '\n') {
		if (b.len >= TOOL_MAX_PASSWORD || ch == '\0') {
			buf_free(&b);
			return NULL;
		}
		buf_putc(&b, (char)ch);
	}
	if (b.len && b.data[b.len - 1] == '\r')
		buf_truncate(&b, b.len - 1);
	if (b.len == 0 || memchr(b.data, '\r', b.len)) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

#endif
