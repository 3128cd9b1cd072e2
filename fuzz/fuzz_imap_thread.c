// fuzz-sources: src/imap/imap_thread.c src/imap/imap_parse_sort.c src/imap/imap_parse.c
// fuzz-sources: src/imap/imap_parse_search.c src/imap/imap_parse_misc.c src/imap/imap_seqset.c
// fuzz-sources: src/mime/mime_decode.c src/mime/mime_parse.c src/mime/mime_header.c
// fuzz-sources: src/mime/mime_param.c
// fuzz-sources: src/core/mem.c src/core/buf.c src/core/str.c src/core/codec.c
// fuzz-libs:
/*
 * fuzz_imap_thread — both threading algorithms of RFC 5256 on a mailbox
 * described by the input, one message per line:
 *
 *     Message-ID-field TAB References-field TAB Subject-field TAB date
 *
 * (missing fields are empty; the date is a decimal number, small so that
 * ties are frequent). The fields go through the readers the THREAD command
 * uses (imap_thread_msgids, imap_base_subject).
 *
 * Checked: no crash, leak or sanitizer report; the answer is well-formed
 * thread lists (balanced parentheses, a number only after "(" or a space,
 * no empty list, a nested list only where branches are) that name every
 * message exactly once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_MSGS 256

static void check(bool cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_imap_thread: %s\n", what);
		abort();
	}
}

/* The fields of one line. */
static void split(const char *p, size_t len, struct str f[4])
{
	for (int i = 0; i < 4; i++) {
		const char *tab = i < 3 ? memchr(p, '\t', len) : NULL;
		size_t n = tab ? (size_t)(tab - p) : len;
		f[i] = (struct str){p, n};
		p += tab ? n + 1 : n;
		len -= tab ? n + 1 : n;
	}
}

static void check_answer(const struct buf *out, size_t n)
{
	unsigned char *seen = calloc(n + 1, 1);
	int depth = 0;
	char prev = 0;
	for (size_t i = 0; i < out->len;) {
		char c = out->data[i];
		if (c == '(') {
			check(prev == 0 || prev == '(' || prev == ')' || prev == ' ',
			      "misplaced '('");
			depth++;
			i++;
		} else if (c == ')') {
			check(depth > 0 && prev != '(' && prev != ' ', "misplaced ')'");
			depth--;
			i++;
		} else if (c == ' ') {
			check(prev >= '0' && prev <= '9' && depth > 0, "misplaced space");
			i++;
		} else {
			check(c >= '1' && c <= '9' && (prev == '(' || prev == ' '),
			      "misplaced number");
			unsigned long v = 0;
			while (i < out->len && out->data[i] >= '0' && out->data[i] <= '9')
				v = v * 10 + (unsigned long)(out->data[i++] - '0');
			check(v >= 1 && v <= n && !seen[v], "a message missing or twice");
			seen[v] = 1;
			c = '0';
		}
		prev = c;
	}
	check(depth == 0, "unbalanced parentheses");
	for (size_t v = 1; v <= n; v++)
		check(seen[v], "a message left out");
	free(seen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct imap_thread_msg msgs[MAX_MSGS];
	char *ids[MAX_MSGS];
	size_t n = 0;
	memset(msgs, 0, sizeof msgs);
	for (size_t pos = 0; pos < size && n < MAX_MSGS;) {
		const char *nl = memchr(in + pos, '\n', size - pos);
		size_t len = nl ? (size_t)(nl - (in + pos)) : size - pos;
		struct str f[4];
		split(in + pos, len, f);
		struct imap_thread_msg *m = &msgs[n];
		m->id = (uint32_t)n + 1;
		char **own = NULL;
		size_t nown = 0;
		imap_thread_msgids(f[0].p, f[0].len, 1, &own, &nown);
		ids[n] = nown ? own[0] : NULL;
		free(own);
		m->msgid = ids[n];
		imap_thread_msgids(f[1].p, f[1].len, IMAP_MAX_THREAD_REFS, &m->refs, &m->nrefs);
		struct buf b = BUF_INIT;
		imap_base_subject(f[2].p, f[2].len, &b, &m->reply);
		m->subject = buf_steal(&b);
		for (size_t k = 0; k < f[3].len && k < 3; k++)
			if (f[3].p[k] >= '0' && f[3].p[k] <= '9')
				m->date = m->date * 10 + (f[3].p[k] - '0');
		n++;
		pos += len + (nl ? 1 : 0);
	}
	for (int alg = 0; alg < 2; alg++) {
		struct buf out = BUF_INIT;
		imap_thread(alg ? IMAP_THREAD_REFERENCES : IMAP_THREAD_ORDEREDSUBJECT, msgs, n,
		            &out);
		check_answer(&out, n);
		buf_free(&out);
	}
	for (size_t i = 0; i < n; i++) {
		free(ids[i]);
		free((char *)msgs[i].subject);
		imap_thread_msgids_free(&msgs[i].refs, msgs[i].nrefs);
	}
	return 0;
}
