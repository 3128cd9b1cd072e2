/*
 * store_search — the vocabulary of the full-text index: the terms a message
 * is indexed under, and the query that finds the messages holding a string.
 * Pure: no SQLite, no I/O (fuzz/fuzz_store_search.c).
 *
 * A term is a trigram: three consecutive characters of the message header's
 * text or of the body's (mime_search_text), with ASCII letters folded to lower
 * case - the exact matcher's folding (imap_search_matches), and no other. A
 * message's terms are its distinct trigrams, each written once as a word of
 * lower-case hexadecimal digits (the UTF-8 bytes of the folded trigram), the
 * header's with an "h" before it: a body "Hi Bob" gives the words 686920
 * 692062 20626f 626f62 ("hi ", "i b", " bo", "bob"). The index (FTS5 with its
 * plain "ascii" tokenizer, store_sqlite_search.c) keeps those words as they
 * are.
 *
 * Why words and not FTS5's own trigram tokenizer: a text of n characters has
 * n - 2 trigrams but far fewer distinct ones (a 4 KiB message has 1,000 to
 * 2,000, a repetitive one a few hundred), and FTS5's cost is per trigram it is
 * handed; the set is made here, on store_submit's caller's thread, in a
 * fraction of that. And the words are the same for the same bytes in every
 * petrel that writes this format: the index keeps no copy of the text, so to
 * remove a message the store makes its terms again from the message's bytes.
 *
 * A string S of at least three characters occurs in a piece of text only if
 * each of its trigrams does (a byte-wise match of valid UTF-8 starts and ends
 * on character boundaries, and the folding is the same on both sides), so the
 * AND of the terms of a few trigrams covering S finds every message holding
 * S, and perhaps some that do not (trigrams in another order, or across two
 * pieces), which the caller's exact check removes.
 */
#include "store/store_internal.h"

#include "mime/mime.h"

#include <stdlib.h>
#include <string.h>

/* A trigram as a number: three code points (21 bits each), ASCII folded. Never
   0 (a text holds no NUL, and the first code point of a trigram shifts left). */
static uint32_t fold(uint32_t cp)
{
	return cp >= 'A' && cp <= 'Z' ? cp + ('a' - 'A') : cp;
}

#define CP_BITS 21
#define CP_MASK ((UINT64_C(1) << CP_BITS) - 1)
#define TRIGRAM_MASK ((UINT64_C(1) << (3 * CP_BITS)) - 1)

/* Code point at s (n > 0 bytes left) and its length; an invalid byte is
   U+FFFD of length 1 (the search texts are valid UTF-8: this only bounds). */
static size_t next_cp(const unsigned char *s, size_t n, uint32_t *cp_r)
{
	if (s[0] < 0x80) {
		*cp_r = s[0];
		return 1;
	}
	size_t k = utf8_decode(s, n, cp_r);
	if (k == 0) {
		*cp_r = 0xfffd;
		return 1;
	}
	return k;
}

/* ---- the set of a text's trigrams ------------------------------------------------- */

struct trigram_set {
	uint64_t *slot; /* open addressing, 0 = empty */
	size_t cap;     /* 1 << bits */
	unsigned bits;
	size_t n;
};

#define SET_MIN_BITS 8
#define SET_START_MAX_BITS 16 /* sized for the text up to here; grows beyond */

/* Fibonacci hashing: the top bits of the product depend on every bit of the
   key (the first character's too). */
static size_t slot_of(uint64_t key, unsigned bits)
{
	return (size_t)((key * UINT64_C(0x9e3779b97f4a7c15)) >> (64 - bits));
}

/* An empty set with room for a text of len bytes without growing (up to
   SET_START_MAX_BITS): it never holds more trigrams than characters. */
static void set_init(struct trigram_set *s, size_t len)
{
	unsigned bits = SET_MIN_BITS;
	while (bits < SET_START_MAX_BITS && ((size_t)1 << bits) < 2 * len)
		bits++;
	*s = (struct trigram_set){
	        .slot = xcalloc((size_t)1 << bits, sizeof *s->slot),
	        .cap = (size_t)1 << bits,
	        .bits = bits,
	};
}

static void set_insert(struct trigram_set *s, uint64_t key)
{
	size_t i = slot_of(key, s->bits);
	while (s->slot[i] != 0) {
		if (s->slot[i] == key)
			return;
		i = (i + 1) & (s->cap - 1);
	}
	s->slot[i] = key;
	s->n++;
}

static void set_add(struct trigram_set *s, uint64_t key)
{
	if ((s->n + 1) * 2 > s->cap) { /* at most half full */
		struct trigram_set bigger = {
		        .slot = xcalloc(s->cap * 2, sizeof *s->slot),
		        .cap = s->cap * 2,
		        .bits = s->bits + 1,
		};
		for (size_t i = 0; i < s->cap; i++)
			if (s->slot[i])
				set_insert(&bigger, s->slot[i]);
		free(s->slot);
		*s = bigger;
	}
	set_insert(s, key);
}

static void add_text(struct trigram_set *s, const char *text, size_t len)
{
	const unsigned char *p = (const unsigned char *)text;
	uint64_t key = 0, last = 0;
	size_t chars = 0;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		i += next_cp(p + i, len - i, &cp);
		key = ((key << CP_BITS) | fold(cp)) & TRIGRAM_MASK;
		if (++chars < 3)
			continue;
		if (key == last) { /* a run of one character: nothing new until it ends */
			while (i < len && p[i] == cp && cp < 0x80)
				i++;
			continue;
		}
		set_add(s, key);
		last = key;
	}
}

/* ---- words ------------------------------------------------------------------------- */

#define WORD_MAX (1 + 2 * 12) /* "h", then two digits for each of 12 bytes */

static size_t utf8_put(uint32_t cp, unsigned char *out)
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xc0 | (cp >> 6));
		out[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xe0 | (cp >> 12));
		out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (unsigned char)(0xf0 | (cp >> 18));
	out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Writes the word of trigram key at w (room for WORD_MAX): "h" for the
   header, then the hex digits. Returns its length. */
static size_t word(char *w, uint64_t key, bool header)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char bytes[12];
	size_t n = 0, len = 0;
	for (int shift = 2 * CP_BITS; shift >= 0; shift -= CP_BITS)
		n += utf8_put((uint32_t)((key >> shift) & CP_MASK), bytes + n);
	if (header)
		w[len++] = 'h';
	for (size_t i = 0; i < n; i++) {
		w[len++] = hex[bytes[i] >> 4];
		w[len++] = hex[bytes[i] & 15];
	}
	return len;
}

static void put_word(struct buf *out, uint64_t key, bool header)
{
	char w[WORD_MAX];
	buf_append(out, w, word(w, key, header));
}

/* Appends the set's words, each after a space unless out is empty. */
static void put_set(struct buf *out, const struct trigram_set *s, bool header)
{
	buf_reserve(out, s->n * (1 + WORD_MAX));
	char *p = out->data + out->len;
	for (size_t i = 0; i < s->cap; i++) {
		if (!s->slot[i])
			continue;
		if (p > out->data)
			*p++ = ' ';
		p += word(p, s->slot[i], header);
	}
	out->len = (size_t)(p - out->data);
	out->data[out->len] = '\0';
}

void store_search_terms_of_texts(const char *header, size_t header_len, const char *body,
                                 size_t body_len, struct buf *terms)
{
	const char *text[2] = {header, body};
	size_t len[2] = {header_len, body_len};
	for (int i = 0; i < 2; i++) {
		struct trigram_set s;
		set_init(&s, len[i]);
		add_text(&s, text[i], len[i]);
		put_set(terms, &s, i == 0);
		free(s.slot);
	}
}

void store_search_terms(const char *msg, size_t len, struct buf *terms)
{
	struct mime_part *root = NULL;
	mime_parse(msg, len, &root);
	struct buf header = BUF_INIT, body = BUF_INIT;
	mime_search_text(root, msg, &header, &body);
	mime_part_free(&root);
	store_search_terms_of_texts(header.data ? header.data : "", header.len,
	                            body.data ? body.data : "", body.len, terms);
	buf_free(&header);
	buf_free(&body);
}

/* ---- queries ----------------------------------------------------------------------- */

/* Appends "w1" AND "w2" ... for the trigrams at at[0..k). */
static void put_and(struct buf *q, const uint64_t *keys, size_t k, bool header)
{
	for (size_t j = 0; j < k; j++) {
		if (j)
			buf_puts(q, " AND ");
		buf_putc(q, '"');
		put_word(q, keys[j], header);
		buf_putc(q, '"');
	}
}

/* The trigrams a lookup of needle asks for, at most STORE_SEARCH_MAX_TRIGRAMS
   into pick: those starting at characters 0, 3, 6 ... and at the last three,
   or an even spread of them. 0 when the needle cannot be looked up. */
static size_t pick_trigrams(const char *needle, size_t len,
                            uint64_t pick[STORE_SEARCH_MAX_TRIGRAMS])
{
	if (!utf8_valid(needle, len) || memchr(needle, '\0', len))
		return 0;
	const unsigned char *p = (const unsigned char *)needle;
	uint64_t *key = xmalloc((len + 1) * sizeof *key); /* the trigram ending at each char */
	size_t n = 0;
	uint64_t k = 0;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		i += next_cp(p + i, len - i, &cp);
		k = ((k << CP_BITS) | fold(cp)) & TRIGRAM_MASK;
		key[n++] = k;
	}
	size_t m = 0;
	if (n >= STORE_SEARCH_MIN_CHARS) {
		size_t cover = (n + 2) / 3;
		m = cover < STORE_SEARCH_MAX_TRIGRAMS ? cover : STORE_SEARCH_MAX_TRIGRAMS;
		for (size_t j = 0; j < m; j++) {
			size_t t = m == 1 ? 0 : j * (cover - 1) / (m - 1);
			size_t start = t * 3 + 3 <= n ? t * 3 : n - 3;
			pick[j] = key[start + 2];
		}
	}
	free(key);
	return m;
}

bool store_search_query(const char *needle, size_t len, bool with_header, struct buf *q)
{
	uint64_t pick[STORE_SEARCH_MAX_TRIGRAMS];
	size_t m = pick_trigrams(needle, len, pick);
	if (m == 0)
		return false;
	if (with_header) {
		buf_putc(q, '(');
		put_and(q, pick, m, true);
		buf_puts(q, ") OR (");
		put_and(q, pick, m, false);
		buf_putc(q, ')');
	} else {
		put_and(q, pick, m, false);
	}
	return true;
}

bool store_search_query_header(const char *needle, size_t len, struct buf *q)
{
	uint64_t pick[STORE_SEARCH_MAX_TRIGRAMS];
	size_t m = pick_trigrams(needle, len, pick);
	if (m == 0)
		return false;
	put_and(q, pick, m, true);
	return true;
}

/* Is w (n bytes) one of the space-separated words of terms? */
static bool has_word(const char *terms, size_t len, const char *w, size_t n)
{
	const char *end = terms + len;
	for (const char *p = terms; (size_t)(end - p) >= n;) {
		const char *hit = memmem(p, (size_t)(end - p), w, n);
		if (!hit)
			return false;
		if ((hit == terms || hit[-1] == ' ') && (hit + n == end || hit[n] == ' '))
			return true;
		p = hit + 1;
	}
	return false;
}

static bool has_all(const char *terms, size_t len, const uint64_t *keys, size_t k, bool header)
{
	for (size_t j = 0; j < k; j++) {
		char w[WORD_MAX];
		if (!has_word(terms, len, w, word(w, keys[j], header)))
			return false;
	}
	return true;
}

bool store_search_terms_match(const char *terms, size_t len, const char *needle, size_t nlen,
                              bool with_header)
{
	uint64_t pick[STORE_SEARCH_MAX_TRIGRAMS];
	size_t m = pick_trigrams(needle, nlen, pick);
	if (m == 0)
		return true;
	return has_all(terms, len, pick, m, false) ||
	       (with_header && has_all(terms, len, pick, m, true));
}

bool store_search_terms_match_header(const char *terms, size_t len, const char *needle,
                                     size_t nlen)
{
	uint64_t pick[STORE_SEARCH_MAX_TRIGRAMS];
	size_t m = pick_trigrams(needle, nlen, pick);
	return m == 0 || has_all(terms, len, pick, m, true);
}
