// fuzz-sources: src/imap/imap_parse.c src/imap/imap_parse_fetch.c src/imap/imap_parse_search.c
// fuzz-sources: src/imap/imap_parse_misc.c src/imap/imap_seqset.c src/imap/imap_parse_cond.c
// fuzz-sources: src/imap/imap_parse_notify.c
// fuzz-sources: src/imap/imap_parse_sort.c src/imap/imap_thread.c src/mime/mime_decode.c
// fuzz-sources: src/mime/mime_parse.c src/mime/mime_header.c src/mime/mime_param.c
// fuzz-sources: src/imap/imap_parse_list.c
// fuzz-sources: src/core/mem.c src/core/buf.c src/core/str.c src/core/codec.c
// fuzz-libs:
/*
 * fuzz_imap_parse — IMAP commands in wire form, and every interpreter over
 * what the tokenizer makes of them.
 *
 * The input is one whole command (lines with their CRLF and literal bytes,
 * without the last CRLF), as the session hands it over. It is parsed twice
 * with the same struct imap_cmd, which must give the same tree. Then:
 *  - imap_literal_at_end() on its first line;
 *  - imap_fetch_parse() on the arguments after the first (as FETCH does) and
 *    imap_search_parse(), imap_sort_parse() and imap_thread_parse() on all of
 *    them;
 *  - imap_select_params_parse() and imap_store_modifiers_parse() on every
 *    top-level list, imap_notify_parse() on all the arguments;
 *  - imap_list_parse() on all of them and imap_append_parse() on those after
 *    the first (as LIST and APPEND do);
 *  - imap_seqset_parse() on every atom;
 *  - modified UTF-7 both ways, imap_parse_date() and imap_parse_datetime() on
 *    every atom, string and literal, and SORT's and THREAD's readers of
 *    text: the base subject, RFC 5322 dates, ENVELOPE strings, Message-IDs.
 *
 * Checked: no crash, leak or sanitizer report; statuses in range and a reason
 * exactly on failure; the tag and every value point where they should; the
 * tree respects IMAP_MAX_ARGS and IMAP_MAX_DEPTH and holds only what its type
 * allows; normalised sequence sets are sorted, merged and agree with a
 * brute-force reading of their text; FETCH and SEARCH results respect their
 * limits and shapes; UTF-7 decoding gives valid UTF-8 that encodes back to
 * the same bytes, and encoding always decodes back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_imap_parse: %s\n", what);
		abort();
	}
}

static bool inside(struct str s, const char *p, size_t len)
{
	return s.len == 0 || (s.p >= p && s.p + s.len <= p + len);
}

static bool valid_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = s[i];
		size_t len;
		unsigned char lo = 0x80, hi = 0xBF;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xC2 && c <= 0xDF) {
			len = 2;
		} else if (c >= 0xE0 && c <= 0xEF) {
			len = 3;
			lo = c == 0xE0 ? 0xA0 : 0x80;
			hi = c == 0xED ? 0x9F : 0xBF;
		} else if (c >= 0xF0 && c <= 0xF4) {
			len = 4;
			lo = c == 0xF0 ? 0x90 : 0x80;
			hi = c == 0xF4 ? 0x8F : 0xBF;
		} else {
			return false;
		}
		if (n - i < len || s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k < len; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xBF)
				return false;
		i += len;
	}
	return true;
}

/* ---- the tree ------------------------------------------------------------------ */

struct walk {
	const char *data;
	size_t size;
	const struct imap_cmd *cmd;
	size_t nodes;
};

static void check_args(struct walk *w, const struct imap_arg *args, size_t n, int depth,
                       bool in_section);

static void check_arg(struct walk *w, const struct imap_arg *a, int depth, bool in_section)
{
	w->nodes++;
	check(a->type == IMAP_ARG_ATOM || a->nsection == 0, "a section on something not an atom");
	check(a->type == IMAP_ARG_LITERAL || !a->binary, "binary flag on something not a literal");
	switch (a->type) {
	case IMAP_ARG_ATOM:
	case IMAP_ARG_NIL:
		check(a->value.len > 0 && inside(a->value, w->data, w->size),
		      "atom outside the input");
		/* A section's text may hold anything; what is around it may not. */
		size_t lb = a->value.len, rb = a->value.len;
		if (a->nsection) {
			const char *open = memchr(a->value.p, '[', a->value.len);
			check(open != NULL, "section without '['");
			lb = (size_t)(open - a->value.p);
			while (rb > lb && a->value.p[rb - 1] != ']')
				rb--;
			check(rb > lb, "section without ']'");
		}
		for (size_t k = 0; k < a->value.len; k++) {
			unsigned char c = (unsigned char)a->value.p[k];
			if (k >= lb && k < rb)
				continue;
			check(c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != '{' && c != '"',
			      "atom with a byte atoms cannot hold");
			check(k < rb || (c != '[' && c != ']'), "a bracket after a section");
		}
		if (a->type == IMAP_ARG_NIL)
			check(str_eq_cstr_nocase(a->value, "NIL"), "NIL that is not NIL");
		else if (str_eq_cstr_nocase(a->value, "NIL"))
			check(false, "atom NIL not made NIL");
		if (a->nsection) {
			check(!in_section, "a section inside a section");
			check(a->section != NULL, "section count without a section");
			check_args(w, a->section, a->nsection, depth, true);
		} else {
			check(a->section == NULL, "section pointer without a count");
		}
		check(a->list == NULL && a->nlist == 0, "list on an atom");
		break;
	case IMAP_ARG_STRING:
		check(inside(a->value, w->data, w->size) ||
		              inside(a->value, w->cmd->unescaped.data, w->cmd->unescaped.len),
		      "string outside the input and the command");
		check(memchr(a->value.p, '\r', a->value.len) == NULL &&
		              memchr(a->value.p, '\n', a->value.len) == NULL &&
		              (a->value.len == 0 || memchr(a->value.p, 0, a->value.len) == NULL),
		      "CR, LF or NUL in a quoted string");
		check(valid_utf8((const unsigned char *)a->value.p, a->value.len),
		      "invalid UTF-8 in a quoted string");
		break;
	case IMAP_ARG_LITERAL:
		check(inside(a->value, w->data, w->size), "literal outside the input");
		check(a->binary || a->value.len == 0 || !memchr(a->value.p, 0, a->value.len),
		      "NUL in a literal that is not binary");
		break;
	case IMAP_ARG_LIST:
		check(depth + 1 <= IMAP_MAX_DEPTH, "lists nested too deeply");
		check((a->nlist == 0) == (a->list == NULL), "list pointer and count disagree");
		check_args(w, a->list, a->nlist, depth + 1, in_section);
		break;
	default:
		check(false, "argument type out of range");
	}
}

static void check_args(struct walk *w, const struct imap_arg *args, size_t n, int depth,
                       bool in_section)
{
	for (size_t k = 0; k < n; k++)
		check_arg(w, &args[k], depth, in_section);
}

static void dump(struct buf *b, const struct imap_arg *args, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		const struct imap_arg *a = &args[k];
		buf_printf(b, "%d:%d:%zu:", (int)a->type, (int)a->binary, a->value.len);
		buf_append(b, a->value.p, a->value.len);
		if (a->type == IMAP_ARG_LIST) {
			buf_putc(b, '(');
			dump(b, a->list, a->nlist);
			buf_putc(b, ')');
		}
		if (a->nsection) {
			buf_putc(b, '[');
			dump(b, a->section, a->nsection);
			buf_putc(b, ']');
		}
	}
}

/* ---- sequence sets --------------------------------------------------------------- */

/* Whether n is in the set as written, by brute force over the text. */
static bool naive_contains(struct str t, uint32_t n, uint32_t max)
{
	size_t i = 0;
	while (i <= t.len) {
		size_t j = i;
		while (j < t.len && t.p[j] != ',')
			j++;
		uint32_t v[2] = {0, 0};
		size_t nv = 0;
		for (size_t k = i; k <= j && nv < 2; nv++) {
			if (t.p[k] == '*') {
				v[nv] = max;
				k += 2;
				continue;
			}
			uint64_t x = 0;
			while (k < j && t.p[k] >= '0' && t.p[k] <= '9')
				x = x * 10 + (uint64_t)(t.p[k++] - '0');
			/* 4294967295 reads as 4294967294: no message can have it */
			v[nv] = x == UINT32_MAX ? UINT32_MAX - 1 : (uint32_t)x;
			k++;
		}
		uint32_t lo = v[0], hi = nv == 2 ? v[1] : v[0];
		if (lo > hi) {
			uint32_t x = lo;
			lo = hi;
			hi = x;
		}
		if (n >= lo && n <= hi)
			return true;
		i = j + 1;
	}
	return false;
}

static void check_seqset(struct str text)
{
	struct imap_seqset set;
	if (imap_seqset_parse(text, &set) < 0) {
		check(set.ranges == NULL && set.nranges == 0 && !set.saved,
		      "a refused set left something behind");
		return;
	}
	if (set.saved) {
		check(text.len == 1 && text.p[0] == '$' && set.nranges == 0, "'$' that is not '$'");
		imap_seqset_free(&set);
		return;
	}
	check(set.nranges >= 1 && set.nranges <= IMAP_MAX_SEQ_RANGES, "range count");
	size_t nstar = 0;
	for (size_t k = 0; k < set.nranges; k++) {
		check(set.ranges[k].lo >= 1 && set.ranges[k].lo <= set.ranges[k].hi,
		      "range out of order");
		if (set.ranges[k].hi == IMAP_SEQ_STAR) {
			nstar++;
			continue;
		}
		check(nstar == 0, "a finite range after a star range");
		if (k > 0)
			check((uint64_t)set.ranges[k].lo > (uint64_t)set.ranges[k - 1].hi + 1,
			      "finite ranges not sorted and merged");
	}
	check(nstar <= 2, "more than two star ranges");
	if (set.nranges <= 64 && text.len <= 512) {
		static const uint32_t maxes[] = {0, 1, 2, 3, 7, 10, 100, 4294967294u};
		for (size_t m = 0; m < ARRAY_SIZE(maxes); m++) {
			uint32_t probes[] = {1,
			                     2,
			                     3,
			                     5,
			                     9,
			                     10,
			                     11,
			                     99,
			                     100,
			                     101,
			                     maxes[m],
			                     set.ranges[0].lo,
			                     set.ranges[set.nranges - 1].hi,
			                     4294967294u};
			for (size_t p = 0; p < ARRAY_SIZE(probes); p++)
				check(imap_seqset_contains(&set, probes[p], maxes[m]) ==
				              naive_contains(text, probes[p], maxes[m]),
				      "membership disagrees with the text");
		}
	}
	imap_seqset_free(&set);
	check(set.ranges == NULL && set.nranges == 0, "free left something behind");
}

/* ---- FETCH ------------------------------------------------------------------------- */

static void check_fetch(const struct imap_arg *args, size_t nargs)
{
	struct imap_fetch_spec spec;
	struct buf why = BUF_INIT;
	int rc = imap_fetch_parse(args, nargs, &spec, &why);
	check(rc == 0 || rc == -1 || rc == -2, "fetch status out of range");
	check((rc == 0) == (why.len == 0), "fetch: a reason without failure or none");
	if (rc < 0) {
		check(spec.atts == NULL && spec.natts == 0, "a refused fetch left atts");
		buf_free(&why);
		return;
	}
	check(spec.natts >= 1, "a fetch without items");
	check(!spec.vanished || spec.changedsince > 0, "VANISHED without CHANGEDSINCE");
	check(spec.changedsince <= (uint64_t)INT64_MAX, "CHANGEDSINCE out of range");
	for (size_t k = 0; k < spec.natts; k++) {
		const struct imap_fetch_att *a = &spec.atts[k];
		check(a->item <= IMAP_FETCH_EMAILID, "fetch item out of range");
		check(a->kind <= IMAP_SECTION_MIME, "section kind out of range");
		check(a->nparts <= IMAP_MAX_SECTION_PARTS, "too many parts kept");
		check(a->text.len > 0, "an item without text");
		for (size_t p = 0; p < a->nparts; p++)
			check(a->part[p] >= 1, "part number 0");
		check(a->kind != IMAP_SECTION_MIME || a->nparts > 0, "MIME without a part");
		check(!a->partial || a->count >= 1, "partial with count 0");
		check(a->partial || (a->offset == 0 && a->count == 0), "offsets without partial");
		bool fields = a->kind == IMAP_SECTION_HEADER_FIELDS ||
		              a->kind == IMAP_SECTION_HEADER_FIELDS_NOT;
		check(fields == (a->fields != NULL), "fields and kind disagree");
		check(!fields || a->nfields >= 1, "HEADER.FIELDS without fields");
		if (a->fields) {
			check(a->fields[a->nfields] == NULL, "fields not NULL-terminated");
			for (size_t f = 0; f < a->nfields; f++)
				for (const char *c = a->fields[f]; *c; c++)
					check(!(*c >= 'a' && *c <= 'z'), "field not upper-cased");
		}
		if (a->item == IMAP_FETCH_BINARY || a->item == IMAP_FETCH_BINARY_SIZE)
			check(a->kind == IMAP_SECTION_ALL, "BINARY with a section text");
		if (a->item == IMAP_FETCH_BINARY_SIZE)
			check(!a->partial, "BINARY.SIZE with a partial");
		if (a->item != IMAP_FETCH_BODY_SECTION && a->item != IMAP_FETCH_BINARY &&
		    a->item != IMAP_FETCH_BINARY_SIZE)
			check(a->nparts == 0 && !a->partial, "parts on an item without a section");
	}
	imap_fetch_spec_free(&spec);
	check(spec.atts == NULL && spec.natts == 0, "fetch free left something");
	buf_free(&why);
}

/* ---- SEARCH ------------------------------------------------------------------------- */

static size_t check_key(const struct imap_search_key *k, unsigned depth)
{
	check(depth < IMAP_MAX_SEARCH_DEPTH, "search keys nested too deeply");
	check(k->op <= IMAP_SEARCH_MODSEQ, "search op out of range");
	check(k->str.p == NULL || strlen(k->str.p) == k->str.len, "str length wrong");
	check(k->str2.p == NULL || strlen(k->str2.p) == k->str2.len, "str2 length wrong");
	size_t n = 1;
	switch (k->op) {
	case IMAP_SEARCH_AND:
		check(k->nchildren >= 1 && k->children, "an empty group");
		for (size_t i = 0; i < k->nchildren; i++)
			n += check_key(&k->children[i], depth + 1);
		break;
	case IMAP_SEARCH_OR:
		check(k->a && k->b, "OR without two keys");
		n += check_key(k->a, depth + 1) + check_key(k->b, depth + 1);
		break;
	case IMAP_SEARCH_NOT:
		check(k->a && !k->b, "NOT without one key");
		n += check_key(k->a, depth + 1);
		break;
	case IMAP_SEARCH_SEQSET:
	case IMAP_SEARCH_UID:
		check(k->set.saved || k->set.nranges >= 1, "an empty set");
		break;
	case IMAP_SEARCH_FLAG:
	case IMAP_SEARCH_UNFLAG:
	case IMAP_SEARCH_KEYWORD:
	case IMAP_SEARCH_UNKEYWORD:
	case IMAP_SEARCH_BODY:
	case IMAP_SEARCH_TEXT:
		check(k->str.p != NULL, "a key without its string");
		break;
	case IMAP_SEARCH_HEADER:
		check(k->str.p != NULL && k->str2.p != NULL, "HEADER without field and value");
		break;
	case IMAP_SEARCH_OLDER:
	case IMAP_SEARCH_YOUNGER:
		check(k->num >= 1 && k->num <= UINT32_MAX, "interval out of range");
		break;
	default:
		break;
	}
	if (k->op != IMAP_SEARCH_OR && k->op != IMAP_SEARCH_NOT)
		check(!k->a && !k->b, "sub-keys on a key that takes none");
	return n;
}

/* SELECT parameters and STORE modifiers: a reason exactly on failure, an
   empty result then, and seq-match-data within its limit and ascending. */
static void check_cond(const struct imap_arg *args, size_t nargs)
{
	for (size_t i = 0; i < nargs; i++) {
		if (args[i].type != IMAP_ARG_LIST)
			continue;
		struct imap_select_params p;
		struct buf why = BUF_INIT;
		int rc = imap_select_params_parse(&args[i], &p, &why);
		check(rc == 0 || rc == -1, "select params status");
		check((rc == 0) == (why.len == 0), "select params reason");
		if (rc < 0)
			check(!p.qresync && !p.condstore && !p.q.match_msn,
			      "failure leaves p empty");
		check(p.q.nmatch <= IMAP_MAX_SEQ_MATCH, "seq-match limit");
		for (size_t k = 1; k < p.q.nmatch; k++)
			check(p.q.match_msn[k] > p.q.match_msn[k - 1] &&
			              p.q.match_uid[k] > p.q.match_uid[k - 1],
			      "seq-match ascending");
		if (p.qresync)
			check(p.q.uidvalidity > 0 && p.q.modseq > 0 && p.q.modseq <= INT64_MAX,
			      "qresync numbers");
		imap_select_params_free(&p);
		buf_reset(&why);
		uint64_t v = UINT64_MAX;
		rc = imap_store_modifiers_parse(&args[i], &v, &why);
		check(rc == 0 || rc == -1, "store modifiers status");
		check((rc == 0) == (why.len == 0), "store modifiers reason");
		if (rc == 0)
			check(v <= INT64_MAX, "unchangedsince range");
		buf_free(&why);
	}
}

/* NOTIFY: a reason exactly on failure, nothing left then; groups within
   their limits, fetch attributes only for SELECTED, events paired. */
static void check_notify(const struct imap_arg *args, size_t nargs)
{
	struct imap_notify_spec spec;
	struct buf why = BUF_INIT;
	int rc = imap_notify_parse(args, nargs, &spec, &why);
	check(rc == 0 || rc == -1 || rc == -2, "notify status");
	check((rc == 0) == (why.len == 0), "notify reason");
	if (rc < 0)
		check(!spec.groups && !spec.ngroups && !spec.none, "failure leaves spec empty");
	check(spec.ngroups <= IMAP_MAX_NOTIFY_GROUPS, "notify group limit");
	size_t names = 0;
	for (size_t i = 0; i < spec.ngroups; i++) {
		const struct imap_notify_group *g = &spec.groups[i];
		names += g->nnames;
		unsigned ne = IMAP_NOTIFY_MESSAGE_NEW | IMAP_NOTIFY_MESSAGE_EXPUNGE;
		check((g->events & ne) == 0 || (g->events & ne) == ne, "MessageNew/Expunge paired");
		if (g->has_fetch)
			check(g->filter == IMAP_NOTIFY_SELECTED ||
			              g->filter == IMAP_NOTIFY_SELECTED_DELAYED,
			      "fetch only for SELECTED");
		for (size_t j = 0; j < g->nnames; j++)
			check(g->names[j] && g->names[j][0], "names non-empty");
	}
	check(names <= IMAP_MAX_NOTIFY_NAMES, "notify name limit");
	imap_notify_spec_free(&spec);
	buf_free(&why);
}

static void check_search(const struct imap_arg *args, size_t nargs)
{
	struct imap_search s;
	struct buf why = BUF_INIT;
	int rc = imap_search_parse(args, nargs, &s, &why);
	check(rc == 0 || rc == -1 || rc == -2, "search status out of range");
	check((rc == 0) == (why.len == 0), "search: a reason without failure or none");
	if (rc == -2)
		check(s.nkeys > IMAP_MAX_SEARCH_KEYS || s.nkeys >= IMAP_MAX_SEARCH_DEPTH,
		      "a limit failure under every limit");
	if (rc < 0) {
		check(s.root.children == NULL && s.charset == NULL, "a refused search left keys");
		buf_free(&why);
		return;
	}
	check(s.root.op == IMAP_SEARCH_AND && s.root.nchildren >= 1, "root is not a non-empty AND");
	size_t n = 0;
	for (size_t i = 0; i < s.root.nchildren; i++)
		n += check_key(&s.root.children[i], 0);
	check(n == s.nkeys && n <= IMAP_MAX_SEARCH_KEYS, "key count wrong");
	check(s.esearch || !(s.ret_min || s.ret_max || s.ret_all || s.ret_count || s.ret_save),
	      "RETURN options without esearch");
	if (s.charset)
		for (const char *c = s.charset; *c; c++)
			check(!(*c >= 'a' && *c <= 'z'), "charset not upper-cased");
	imap_search_free(&s);
	buf_free(&why);
}

static void check_sort(const struct imap_arg *args, size_t nargs)
{
	struct imap_sort s;
	struct buf why = BUF_INIT;
	int rc = imap_sort_parse(args, nargs, &s, &why);
	check(rc == 0 || rc == -1 || rc == -2, "sort status out of range");
	check((rc == 0) == (why.len == 0), "sort: a reason without failure or none");
	if (rc == 0) {
		check(s.ncrit >= 1 && s.ncrit <= IMAP_MAX_SORT_CRITERIA, "criteria count wrong");
		check(s.search.charset && *s.search.charset, "SORT without a charset");
		check(s.search.root.nchildren >= 1, "SORT without search keys");
		const struct imap_search *q = &s.search;
		check(!q->ret_partial || (q->partial_lo >= 1 && q->partial_lo <= q->partial_hi),
		      "PARTIAL range out of order");
		check(!(q->ret_partial && q->ret_all), "PARTIAL with ALL");
	} else {
		check(s.ncrit == 0 && s.search.charset == NULL && s.search.root.children == NULL,
		      "a refused SORT left something");
	}
	imap_sort_free(&s);
	buf_reset(&why);
	enum imap_thread_alg alg;
	rc = imap_thread_parse(args, nargs, &alg, &s.search, &why);
	check(rc == 0 || rc == -1 || rc == -2, "thread status out of range");
	check((rc == 0) == (why.len == 0), "thread: a reason without failure or none");
	if (rc == 0)
		check(alg == IMAP_THREAD_REFERENCES || alg == IMAP_THREAD_ORDEREDSUBJECT,
		      "unknown algorithm");
	imap_search_free(&s.search);
	buf_free(&why);
}

static bool in_tree(const struct imap_arg *p, const struct imap_arg *args, size_t nargs)
{
	for (size_t k = 0; k < nargs; k++) {
		if (p == &args[k])
			return true;
		if (args[k].type == IMAP_ARG_LIST && in_tree(p, args[k].list, args[k].nlist))
			return true;
	}
	return false;
}

static void check_list(const struct imap_arg *args, size_t nargs)
{
	struct imap_list_args l;
	struct buf why = BUF_INIT;
	int rc = imap_list_parse(args, nargs, &l, &why);
	check(rc == 0 || rc == -1, "list status out of range");
	check((rc == 0) == (why.len == 0), "list: a reason without failure or none");
	if (rc < 0) {
		check(!l.ref && !l.patterns && !l.status && !l.select && !l.ret,
		      "a refused LIST left results");
	} else {
		check(l.ref && in_tree(l.ref, args, nargs) && imap_arg_is_string(l.ref),
		      "LIST reference out of place");
		check(l.npatterns >= 1, "LIST without a pattern");
		for (size_t k = 0; k < l.npatterns; k++)
			check(in_tree(&l.patterns[k], args, nargs) &&
			              imap_arg_is_string(&l.patterns[k]),
			      "LIST pattern out of place");
		check(!l.status || (l.ret & IMAP_LIST_STATUS), "STATUS items without STATUS");
		check(!(l.select & IMAP_LIST_RECURSIVEMATCH) ||
		              (l.select & (IMAP_LIST_SUBSCRIBED | IMAP_LIST_SPECIAL_USE)),
		      "RECURSIVEMATCH alone");
		check(l.extended || (!l.select && !l.ret && l.npatterns == 1),
		      "options without the extended form");
	}
	buf_free(&why);
}

static void check_append(const struct imap_arg *args, size_t nargs)
{
	struct imap_append_msg *m = NULL;
	size_t n = 0;
	struct buf why = BUF_INIT;
	int rc = imap_append_parse(args, nargs, &m, &n, &why);
	check(rc == 0 || rc == -1, "append status out of range");
	check((rc == 0) == (why.len == 0), "append: a reason without failure or none");
	check((rc == 0) == (n >= 1 && m != NULL), "append: messages and status disagree");
	check(n <= IMAP_MAX_APPEND_MESSAGES, "more messages than IMAP_MAX_APPEND_MESSAGES");
	for (size_t k = 0; k < n; k++) {
		int64_t t;
		check(!m[k].flags || m[k].flags->type == IMAP_ARG_LIST, "flags not a list");
		check(!m[k].date || imap_parse_datetime(m[k].date->value, &t) == 0,
		      "a bad date accepted");
		check(m[k].binary || !memchr(m[k].data.p ? m[k].data.p : "", 0, m[k].data.len),
		      "NUL in a message that is not literal8");
	}
	free(m);
	buf_free(&why);
}

/* ---- strings ------------------------------------------------------------------------ */

/* SORT's and THREAD's readers of header text. */
static void check_sort_text(struct str v)
{
	struct buf b = BUF_INIT;
	bool reply;
	imap_base_subject(v.p, v.len, &b, &reply);
	check(valid_utf8((const unsigned char *)b.data, b.len), "base subject is not UTF-8");
	for (size_t k = 0; k < b.len; k++)
		check(!(b.data[k] >= 'a' && b.data[k] <= 'z'), "base subject not upper-cased");
	check(!b.len || (b.data[0] != ' ' && b.data[b.len - 1] != ' '),
	      "base subject with outer spaces");
	buf_free(&b);

	int64_t t;
	if (imap_parse_rfc5322_date(v.p, v.len, &t) == 0)
		check(t >= -62167219200 - 2 * 86400 && t <= 253402300799 + 2 * 86400,
		      "RFC 5322 date out of range");

	struct imap_envelope e;
	if (imap_envelope_parse(v.p, v.len, &e) < 0)
		check(!e.date && !e.subject && !e.from.mailbox && !e.message_id,
		      "a refused ENVELOPE left strings");
	imap_envelope_free(&e);

	char **ids = NULL;
	size_t n = 0;
	imap_thread_msgids(v.p, v.len, 8, &ids, &n);
	check(n <= 8, "more Message-IDs than asked");
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(ids[i]);
		check(l >= 4 && ids[i][0] == '<' && ids[i][l - 1] == '>' && strchr(ids[i], '@') &&
		              !strpbrk(ids[i], " \t\r\n"),
		      "malformed Message-ID");
	}
	imap_thread_msgids_free(&ids, n);
}

static void check_string(struct str v)
{
	struct buf a = BUF_INIT, b = BUF_INIT;

	/* decode, then encode back to the same bytes */
	buf_puts(&a, "x");
	if (imap_utf7_to_utf8(v, &a) == 0) {
		struct str out = {a.data + 1, a.len - 1};
		check(valid_utf8((const unsigned char *)out.p, out.len), "UTF-7 gave bad UTF-8");
		check(out.len == 0 || !memchr(out.p, 0, out.len), "UTF-7 gave NUL");
		imap_utf8_to_utf7(out, &b);
		check(str_eq(str_buf(&b), v), "UTF-7 is not canonical");
	} else {
		check(a.len == 1, "a refused UTF-7 name left output");
	}

	/* encode, then decode: always works, and gives back valid input */
	buf_reset(&a);
	buf_reset(&b);
	imap_utf8_to_utf7(v, &a);
	for (size_t k = 0; k < a.len; k++)
		check(a.data[k] >= 0x20 && a.data[k] <= 0x7e, "UTF-7 with a byte it cannot hold");
	check(imap_utf7_to_utf8(str_buf(&a), &b) == 0, "encoded UTF-7 does not decode");
	if (valid_utf8((const unsigned char *)v.p, v.len) && (v.len == 0 || !memchr(v.p, 0, v.len)))
		check(str_eq(str_buf(&b), v), "UTF-8 does not round-trip");
	buf_free(&a);
	buf_free(&b);

	check_sort_text(v);

	int64_t days = imap_parse_date(v);
	check(days >= -1 && days <= 2932896, "date out of range");
	int64_t t = 0;
	if (imap_parse_datetime(v, &t) == 0)
		check(t >= -62167219200 - 86400 && t <= 253402300799 + 86400, "time out of range");
}

static void check_strings(const struct imap_arg *args, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		const struct imap_arg *a = &args[k];
		if (a->type == IMAP_ARG_LIST) {
			check_strings(a->list, a->nlist);
			continue;
		}
		check_string(a->value);
		if (a->type == IMAP_ARG_ATOM)
			check_seqset(a->value);
		if (a->nsection)
			check_strings(a->section, a->nsection);
	}
}

/* ---- the command --------------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;

	/* framing: the first line, as the session sees it */
	const char *crlf = size ? memmem(in, size, "\r\n", 2) : NULL;
	size_t line = crlf ? (size_t)(crlf - in) : size;
	struct imap_literal lit;
	if (imap_literal_at_end(in, line, &lit))
		check(line >= 3 && in[line - 1] == '}', "announcement without '}'");

	struct imap_cmd cmd;
	struct buf why = BUF_INIT, first = BUF_INIT, second = BUF_INIT;
	imap_cmd_init(&cmd);
	enum imap_parse_status st = imap_parse_command(in, size, &cmd, &why);
	check(st >= IMAP_PARSE_OK && st <= IMAP_PARSE_TOO_BIG, "status out of range");
	check((st == IMAP_PARSE_OK) == (why.len == 0), "a reason without failure or none");
	if (st == IMAP_PARSE_NO_TAG) {
		check(cmd.tag.len == 0, "a tag without a tag");
	} else {
		check(cmd.tag.len >= 1 && cmd.tag.len <= IMAP_MAX_TAG && cmd.tag.p == in,
		      "tag out of place");
		for (size_t k = 0; k < cmd.tag.len; k++) {
			unsigned char c = (unsigned char)cmd.tag.p[k];
			check(c > 0x20 && c < 0x7f && !strchr("(){\"\\%*+", c), "bad tag byte");
		}
	}
	if (st != IMAP_PARSE_OK) {
		check(cmd.args == NULL && cmd.nargs == 0, "args kept on failure");
		imap_cmd_free(&cmd);
		buf_free(&why);
		return 0;
	}
	check(cmd.name[0] != '\0', "a command without a name");
	for (const char *c = cmd.name; *c; c++)
		check(!(*c >= 'a' && *c <= 'z'), "name not upper-cased");

	struct walk w = {in, size, &cmd, 0};
	check((cmd.nargs == 0) == (cmd.args == NULL), "args pointer and count disagree");
	check_args(&w, cmd.args, cmd.nargs, 0, false);
	check(w.nodes <= IMAP_MAX_ARGS, "more nodes than IMAP_MAX_ARGS");
	check(w.nodes == cmd.npool, "nodes and pool disagree");

	/* the same command parsed again with the same struct gives the same tree */
	dump(&first, cmd.args, cmd.nargs);
	buf_reset(&why);
	check(imap_parse_command(in, size, &cmd, &why) == IMAP_PARSE_OK, "second parse differs");
	dump(&second, cmd.args, cmd.nargs);
	check(str_eq(str_buf(&first), str_buf(&second)), "second tree differs");

	if (cmd.nargs >= 1)
		check_fetch(cmd.args + 1, cmd.nargs - 1);
	check_search(cmd.args, cmd.nargs);
	check_sort(cmd.args, cmd.nargs);
	check_cond(cmd.args, cmd.nargs);
	check_notify(cmd.args, cmd.nargs);
	check_list(cmd.args, cmd.nargs);
	if (cmd.nargs >= 1)
		check_append(cmd.args + 1, cmd.nargs - 1);
	check_strings(cmd.args, cmd.nargs);

	imap_cmd_free(&cmd);
	buf_free(&why);
	buf_free(&first);
	buf_free(&second);
	return 0;
}
