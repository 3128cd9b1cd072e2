/*
 * mem — allocation that cannot fail silently, and panic for broken invariants.
 *
 * Running out of memory is treated like a bug: petrel bounds every per-session
 * allocation, so an allocation failure means the limits are wrong. We abort with
 * a message rather than carry on half-initialised.
 */
#include "core/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void panic(const char *fmt, ...)
{
	va_list ap;
	fputs("petrel: panic: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		panic("out of memory allocating %zu bytes", n);
	return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (!p)
		panic("out of memory allocating %zu x %zu bytes", nmemb, size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		panic("out of memory reallocating %zu bytes", n);
	return q;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	return buf_steal(&b);
}

void xfree(void *pp)
{
	void **p = pp;
	free(*p);
	*p = NULL;
}
