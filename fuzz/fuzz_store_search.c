// fuzz-sources: src/store/store_search.c
// fuzz-sources: src/mime/mime_parse.c src/mime/mime_header.c src/mime/mime_param.c
// fuzz-sources: src/mime/mime_address.c src/mime/mime_decode.c src/mime/mime_search.c
// fuzz-sources: src/core/mem.c src/core/buf.c src/core/str.c src/core/codec.c
// fuzz-libs:
/*
 * fuzz_store_search — the full-text index's words of an arbitrary message,
 * and what a lookup answers from them.
 *
 * The input is the message. Its search texts (mime_search_text) give its
 * words (store_search_terms).
 *
 * Checked (abort on violation): the words are the same when made again; each
 * is "h" or nothing, then an even number (6 to 24) of lower-case hex digits,
 * with single spaces between them and none twice; every piece the matcher
 * walks (mime_search_walk) - the header and the rest - is found by the
 * words' check (store_search_terms_match) for a spread of its substrings,
 * BODY for the body's and TEXT for all; and every FTS5 query names only words
 * of the message when the check says yes for BODY.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime/mime_internal.h"
#include "store/store_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_store_search: %s\n", what);
		abort();
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void check_words(const struct buf *terms)
{
	char *copy = xstrdup(terms->data ? terms->data : "");
	char **w = NULL;
	size_t n = 0;
	check(terms->len == 0 || (copy[0] != ' ' && copy[terms->len - 1] != ' '),
	      "space at an end");
	check(!strstr(copy, "  "), "two spaces");
	for (char *save = NULL, *t = strtok_r(copy, " ", &save); t;
	     t = strtok_r(NULL, " ", &save)) {
		const char *d = t[0] == 'h' ? t + 1 : t;
		size_t len = strlen(d);
		check(len >= 6 && len <= 24 && len % 2 == 0, "word length");
		check(strspn(d, "0123456789abcdef") == len, "word is not hex");
		w = xrealloc(w, (n + 1) * sizeof *w);
		w[n++] = t;
	}
	if (n > 1)
		qsort(w, n, sizeof *w, cmp_str);
	for (size_t i = 1; i < n; i++)
		check(strcmp(w[i - 1], w[i]) != 0, "a word twice");
	free(w);
	free(copy);
}

struct walk {
	const struct buf *terms;
	size_t seed;
	size_t n;
};

/* Substrings of the piece, whole characters, at a few places. */
static bool piece(const char *text, size_t len, void *arg)
{
	struct walk *w = arg;
	bool header = w->n++ == 0;
	for (size_t k = 0; k < 8 && len > 0; k++) {
		size_t a = (w->seed * (k + 3) + k * 7) % len;
		size_t b = a + 1 + (w->seed + k * 13) % (len - a);
		while (a > 0 && ((unsigned char)text[a] & 0xc0) == 0x80)
			a--;
		while (b < len && ((unsigned char)text[b] & 0xc0) == 0x80)
			b++;
		const char *t = w->terms->data ? w->terms->data : "";
		check(store_search_terms_match(t, w->terms->len, text + a, b - a, true),
		      "TEXT misses a substring");
		if (!header)
			check(store_search_terms_match(t, w->terms->len, text + a, b - a, false),
			      "BODY misses a substring");
		struct buf q = BUF_INIT;
		if (!header && store_search_query(text + a, b - a, false, &q)) {
			/* every "word" of the query is a word of the message */
			char *have = xasprintf(" %s ", t);
			for (const char *p = buf_cstr(&q); (p = strchr(p, '"'));) {
				const char *e = strchr(p + 1, '"');
				check(e != NULL, "unterminated query word");
				char *one = xasprintf(" %.*s ", (int)(e - p - 1), p + 1);
				check(strstr(have, one) != NULL, "a query word the message lacks");
				free(one);
				p = e + 1;
			}
			free(have);
		}
		buf_free(&q);
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *msg = (const char *)data;
	struct buf terms = BUF_INIT, again = BUF_INIT;
	store_search_terms(msg, size, &terms);
	store_search_terms(msg, size, &again);
	check(terms.len == again.len && memcmp(terms.data ? terms.data : "",
	                                       again.data ? again.data : "", terms.len) == 0,
	      "words differ when made again");
	check_words(&terms);

	struct mime_part *root = NULL;
	mime_parse(msg, size, &root);
	struct walk w = {.terms = &terms, .seed = size};
	mime_search_walk(root, msg, true, piece, &w);
	mime_part_free(&root);
	buf_free(&terms);
	buf_free(&again);
	return 0;
}
