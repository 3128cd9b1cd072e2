/*
 * imap_parse_sort — the pure parts of SORT and THREAD (RFC 5256, RFC 5957,
 * RFC 5267): their arguments, the base subject, RFC 5322 dates, and reading
 * back a cached ENVELOPE.
 *
 *     sort       = ["UID" SP] "SORT" [SP "RETURN" SP "(" opts ")"] SP
 *                  sort-criteria SP search-criteria
 *     sort-criteria = "(" sort-criterion *(SP sort-criterion) ")"
 *     sort-criterion = ["REVERSE" SP] sort-key
 *     sort-key   = "ARRIVAL" / "CC" / "DATE" / "FROM" / "SIZE" / "SUBJECT" /
 *                  "TO" / "DISPLAYFROM" / "DISPLAYTO"
 *     thread     = ["UID" SP] "THREAD" SP thread-alg SP search-criteria
 *     search-criteria = charset 1*(SP search-key)
 *
 * The charset is mandatory here (unlike SEARCH's optional CHARSET), and is
 * kept upper-cased in search->charset for the command to check.
 *
 * The base subject (RFC 5256 section 2.1), on the decoded subject:
 *   (1) RFC 2047 words decoded, every run of whitespace made one space;
 *   (2) trailing "(fwd)" and whitespace removed, repeatedly;
 *   (3) leading whitespace and "*blob re|fw|fwd [blob] :" removed;
 *   (4) a leading "[blob]" removed when something is left after it;
 *   (5) (3) and (4) again until neither applies;
 *   (6) "[fwd: ... ]" around all of it removed, then back to (2).
 */
#include "imap/imap_internal.h"

#include "mime/mime.h"

#include <stdlib.h>
#include <string.h>

/* ---- SORT and THREAD arguments ------------------------------------------------------- */

static int bad(struct buf *why, int rc, const char *text)
{
	if (why)
		buf_puts(why, text);
	return rc;
}

static const struct {
	const char *name;
	enum imap_sort_key key;
} sort_keys[] = {
        {"ARRIVAL", IMAP_SORT_ARRIVAL},
        {"CC", IMAP_SORT_CC},
        {"DATE", IMAP_SORT_DATE},
        {"FROM", IMAP_SORT_FROM},
        {"SIZE", IMAP_SORT_SIZE},
        {"SUBJECT", IMAP_SORT_SUBJECT},
        {"TO", IMAP_SORT_TO},
        {"DISPLAYFROM", IMAP_SORT_DISPLAYFROM},
        {"DISPLAYTO", IMAP_SORT_DISPLAYTO},
};

static int parse_criteria(const struct imap_arg *list, struct imap_sort *sort, struct buf *why)
{
	if (list->type != IMAP_ARG_LIST || list->nlist == 0)
		return bad(why, -1, "SORT needs a list of sort criteria");
	bool reverse = false;
	for (size_t i = 0; i < list->nlist; i++) {
		const struct imap_arg *a = &list->list[i];
		if (a->type != IMAP_ARG_ATOM)
			return bad(why, -1, "unknown sort criterion");
		if (str_eq_cstr_nocase(a->value, "REVERSE")) {
			if (reverse)
				return bad(why, -1, "REVERSE twice");
			reverse = true;
			continue;
		}
		size_t k;
		for (k = 0; k < ARRAY_SIZE(sort_keys); k++)
			if (str_eq_cstr_nocase(a->value, sort_keys[k].name))
				break;
		if (k == ARRAY_SIZE(sort_keys))
			return bad(why, -1, "unknown sort criterion");
		if (sort->ncrit == IMAP_MAX_SORT_CRITERIA)
			return bad(why, -1, "too many sort criteria");
		sort->crit[sort->ncrit++] = (struct imap_sort_criterion){sort_keys[k].key, reverse};
		reverse = false;
	}
	if (reverse)
		return bad(why, -1, "REVERSE without a sort key");
	return 0;
}

static int parse_charset(const struct imap_arg *arg, struct imap_search *search, struct buf *why)
{
	if (!imap_arg_is_string(arg) || arg->value.len == 0)
		return bad(why, -1, "a charset is needed");
	search->charset = str_dup(arg->value);
	for (char *p = search->charset; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - ('a' - 'A'));
	return 0;
}

static int parse_sort(const struct imap_arg *args, size_t nargs, struct imap_sort *sort,
                      struct buf *why)
{
	size_t i = 0;
	int rc;
	if (i < nargs && args[i].type == IMAP_ARG_ATOM &&
	    str_eq_cstr_nocase(args[i].value, "RETURN")) {
		if (++i == nargs)
			return bad(why, -1, "RETURN needs a list of options");
		if ((rc = imap_search_parse_return(&args[i++], &sort->search, why)) < 0)
			return rc;
	}
	if (i == nargs)
		return bad(why, -1, "SORT needs a list of sort criteria");
	if ((rc = parse_criteria(&args[i++], sort, why)) < 0)
		return rc;
	if (i == nargs)
		return bad(why, -1, "a charset is needed");
	if ((rc = parse_charset(&args[i++], &sort->search, why)) < 0)
		return rc;
	return imap_search_parse_keys(args + i, nargs - i, &sort->search, why);
}

int imap_sort_parse(const struct imap_arg *args, size_t nargs, struct imap_sort *sort,
                    struct buf *why)
{
	memset(sort, 0, sizeof(*sort));
	sort->search.root.op = IMAP_SEARCH_AND;
	int rc = parse_sort(args, nargs, sort, why);
	if (rc < 0)
		imap_sort_free(sort);
	return rc;
}

void imap_sort_free(struct imap_sort *sort)
{
	imap_search_free(&sort->search);
	memset(sort, 0, sizeof(*sort));
	sort->search.root.op = IMAP_SEARCH_AND;
}

int imap_thread_parse(const struct imap_arg *args, size_t nargs, enum imap_thread_alg *alg_r,
                      struct imap_search *search, struct buf *why)
{
	memset(search, 0, sizeof(*search));
	search->root.op = IMAP_SEARCH_AND;
	int rc = -1;
	if (nargs == 0 || args[0].type != IMAP_ARG_ATOM) {
		rc = bad(why, -1, "THREAD needs an algorithm");
	} else if (str_eq_cstr_nocase(args[0].value, "ORDEREDSUBJECT")) {
		*alg_r = IMAP_THREAD_ORDEREDSUBJECT;
		rc = 0;
	} else if (str_eq_cstr_nocase(args[0].value, "REFERENCES")) {
		*alg_r = IMAP_THREAD_REFERENCES;
		rc = 0;
	} else {
		rc = bad(why, -1, "unknown threading algorithm");
	}
	if (rc == 0)
		rc = nargs < 2 ? bad(why, -1, "a charset is needed")
		               : parse_charset(&args[1], search, why);
	if (rc == 0)
		rc = imap_search_parse_keys(args + 2, nargs - 2, search, why);
	if (rc < 0)
		imap_search_free(search);
	return rc;
}

/* ---- base subject --------------------------------------------------------------------- */

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static char upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - ('a' - 'A')) : c;
}

static bool has_prefix_nocase(const char *p, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);
	if (len < n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (upper(p[i]) != upper(prefix[i]))
			return false;
	return true;
}

/* subj-blob = "[" *BLOBCHAR "]" *WSP: its length at p, or 0. */
static size_t blob_len(const char *p, size_t len)
{
	if (len == 0 || p[0] != '[')
		return 0;
	size_t i = 1;
	while (i < len && p[i] != '[' && p[i] != ']')
		i++;
	if (i == len || p[i] != ']')
		return 0;
	i++;
	while (i < len && is_wsp(p[i]))
		i++;
	return i;
}

/* *subj-blob subj-refwd, subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"
   Its length at p, or 0. */
static size_t leader_len(const char *p, size_t len)
{
	size_t i = 0, b;
	while ((b = blob_len(p + i, len - i)) > 0)
		i += b;
	if (has_prefix_nocase(p + i, len - i, "re"))
		i += 2;
	else if (has_prefix_nocase(p + i, len - i, "fwd"))
		i += 3;
	else if (has_prefix_nocase(p + i, len - i, "fw"))
		i += 2;
	else
		return 0;
	while (i < len && is_wsp(p[i]))
		i++;
	i += blob_len(p + i, len - i);
	if (i < len && p[i] == ':')
		return i + 1;
	return 0;
}

void imap_base_subject(const char *subject, size_t len, struct buf *out, bool *reply_r)
{
	bool reply = false;
	/* (1) */
	struct buf dec = BUF_INIT;
	mime_decode_header(subject, len, &dec);
	char *s = xmalloc(dec.len + 1);
	size_t n = 0;
	for (size_t i = 0; i < dec.len; i++) {
		char c = dec.data[i];
		if (c == '\t' || c == '\r' || c == '\n')
			c = ' ';
		if (c == ' ' && n > 0 && s[n - 1] == ' ')
			continue;
		s[n++] = c;
	}
	buf_free(&dec);
	const char *p = s;
	for (;;) {
		/* (2) */
		for (;;) {
			if (n > 0 && is_wsp(p[n - 1])) {
				n--;
			} else if (n >= 5 && has_prefix_nocase(p + n - 5, 5, "(fwd)")) {
				n -= 5;
				reply = true;
			} else {
				break;
			}
		}
		/* (3) to (5) */
		for (bool again = true; again;) {
			again = false;
			for (;;) {
				size_t l;
				if (n > 0 && is_wsp(p[0])) {
					p++;
					n--;
				} else if ((l = leader_len(p, n)) > 0) {
					p += l;
					n -= l;
					reply = true;
				} else {
					break;
				}
			}
			size_t b = blob_len(p, n);
			if (b > 0) {
				bool rest = false;
				for (size_t i = b; i < n && !rest; i++)
					rest = !is_wsp(p[i]);
				if (rest) {
					p += b;
					n -= b;
					again = true;
				}
			}
		}
		/* (6) */
		if (n >= 6 && has_prefix_nocase(p, n, "[fwd:") && p[n - 1] == ']') {
			p += 5;
			n -= 6;
			reply = true;
			continue;
		}
		break;
	}
	for (size_t i = 0; i < n; i++)
		buf_putc(out, upper(p[i]));
	free(s);
	if (reply_r)
		*reply_r = reply;
}

/* ---- RFC 5322 dates ------------------------------------------------------------------ */

struct scan {
	const char *p;
	size_t len, pos;
};

/* Skips whitespace and comments (nested, as CFWS). */
static void skip_cfws(struct scan *sc)
{
	for (;;) {
		while (sc->pos < sc->len && (sc->p[sc->pos] == ' ' || sc->p[sc->pos] == '\t' ||
		                             sc->p[sc->pos] == '\r' || sc->p[sc->pos] == '\n'))
			sc->pos++;
		if (sc->pos >= sc->len || sc->p[sc->pos] != '(')
			return;
		unsigned depth = 0;
		while (sc->pos < sc->len) {
			char c = sc->p[sc->pos++];
			if (c == '\\' && sc->pos < sc->len)
				sc->pos++;
			else if (c == '(')
				depth++;
			else if (c == ')' && --depth == 0)
				break;
		}
	}
}

static bool scan_number(struct scan *sc, unsigned maxdigits, int *v_r, unsigned *ndigits_r)
{
	unsigned nd = 0;
	int v = 0;
	while (sc->pos < sc->len && sc->p[sc->pos] >= '0' && sc->p[sc->pos] <= '9' &&
	       nd < maxdigits) {
		v = v * 10 + (sc->p[sc->pos++] - '0');
		nd++;
	}
	if (nd == 0)
		return false;
	*v_r = v;
	if (ndigits_r)
		*ndigits_r = nd;
	return true;
}

static size_t scan_word(struct scan *sc, char *w, size_t cap)
{
	size_t n = 0;
	while (sc->pos < sc->len && ((sc->p[sc->pos] >= 'a' && sc->p[sc->pos] <= 'z') ||
	                             (sc->p[sc->pos] >= 'A' && sc->p[sc->pos] <= 'Z'))) {
		if (n + 1 < cap)
			w[n++] = upper(sc->p[sc->pos]);
		sc->pos++;
	}
	w[n] = '\0';
	return n;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

int imap_parse_rfc5322_date(const char *text, size_t len, int64_t *t_r)
{
	static const char *const months[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
	                                     "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
	static const struct {
		const char *name;
		int minutes;
	} zones[] = {{"UT", 0},        {"UTC", 0},       {"GMT", 0},       {"Z", 0},
	             {"EST", -5 * 60}, {"EDT", -4 * 60}, {"CST", -6 * 60}, {"CDT", -5 * 60},
	             {"MST", -7 * 60}, {"MDT", -6 * 60}, {"PST", -8 * 60}, {"PDT", -7 * 60}};
	struct scan sc = {text, len, 0};
	char w[8];
	int day, year, hh, mm, ss = 0;
	unsigned nd;
	skip_cfws(&sc);
	/* [day-of-week ","] */
	size_t save = sc.pos;
	if (scan_word(&sc, w, sizeof w) > 0) {
		skip_cfws(&sc);
		if (sc.pos < sc.len && sc.p[sc.pos] == ',')
			sc.pos++;
		else
			sc.pos = save;
		skip_cfws(&sc);
	}
	if (!scan_number(&sc, 2, &day, NULL) || day < 1 || day > 31)
		return -1;
	skip_cfws(&sc);
	if (scan_word(&sc, w, sizeof w) != 3)
		return -1;
	int mon = -1;
	for (int m = 0; m < 12; m++)
		if (strcmp(w, months[m]) == 0)
			mon = m;
	if (mon < 0)
		return -1;
	skip_cfws(&sc);
	if (!scan_number(&sc, 4, &year, &nd))
		return -1;
	if (nd == 2)
		year += year < 50 ? 2000 : 1900;
	else if (nd == 3)
		year += 1900;
	skip_cfws(&sc);
	if (!scan_number(&sc, 2, &hh, NULL))
		return -1;
	skip_cfws(&sc);
	if (sc.pos >= sc.len || sc.p[sc.pos] != ':')
		return -1;
	sc.pos++;
	skip_cfws(&sc);
	if (!scan_number(&sc, 2, &mm, NULL))
		return -1;
	skip_cfws(&sc);
	if (sc.pos < sc.len && sc.p[sc.pos] == ':') {
		sc.pos++;
		skip_cfws(&sc);
		if (!scan_number(&sc, 2, &ss, NULL))
			return -1;
		skip_cfws(&sc);
	}
	if (hh > 23 || mm > 59 || ss > 60)
		return -1;
	int zone = 0; /* minutes east of UTC; unknown zones are UTC (RFC 5322 4.3) */
	if (sc.pos < sc.len && (sc.p[sc.pos] == '+' || sc.p[sc.pos] == '-')) {
		bool minus = sc.p[sc.pos++] == '-';
		int z;
		if (!scan_number(&sc, 4, &z, &nd) || nd != 4 || z % 100 > 59)
			return -1;
		zone = (z / 100) * 60 + z % 100;
		if (minus)
			zone = -zone;
	} else if (scan_word(&sc, w, sizeof w) > 0) {
		for (size_t k = 0; k < ARRAY_SIZE(zones); k++)
			if (strcmp(w, zones[k].name) == 0)
				zone = zones[k].minutes;
	}
	int64_t days = days_from_civil(year, (unsigned)mon + 1, (unsigned)day);
	*t_r = days * 86400 + hh * 3600 + mm * 60 + ss - (int64_t)zone * 60;
	return 0;
}

/* ---- reading a cached ENVELOPE --------------------------------------------------------- */

/* A response's syntax, not a command's (address lists have no space
   between their elements), so not the tokenizer: nstrings and lists. */

static void skip_sp(struct scan *sc)
{
	while (sc->pos < sc->len && sc->p[sc->pos] == ' ')
		sc->pos++;
}

/* nstring: NIL (*s_r = NULL), a quoted string or a literal. */
static bool read_nstring(struct scan *sc, char **s_r)
{
	*s_r = NULL;
	skip_sp(sc);
	if (sc->len - sc->pos >= 3 && has_prefix_nocase(sc->p + sc->pos, 3, "NIL")) {
		sc->pos += 3;
		return true;
	}
	if (sc->pos < sc->len && sc->p[sc->pos] == '"') {
		struct buf b = BUF_INIT;
		for (sc->pos++; sc->pos < sc->len && sc->p[sc->pos] != '"'; sc->pos++) {
			if (sc->p[sc->pos] == '\\' && sc->pos + 1 < sc->len)
				sc->pos++;
			buf_putc(&b, sc->p[sc->pos]);
		}
		if (sc->pos == sc->len) {
			buf_free(&b);
			return false;
		}
		sc->pos++;
		*s_r = buf_steal(&b);
		return true;
	}
	if (sc->pos < sc->len && sc->p[sc->pos] == '{') {
		unsigned nd = 0;
		sc->pos++;
		uint64_t size = 0;
		while (sc->pos < sc->len && sc->p[sc->pos] >= '0' && sc->p[sc->pos] <= '9' &&
		       nd < 10) {
			size = size * 10 + (uint64_t)(sc->p[sc->pos++] - '0');
			nd++;
		}
		if (nd == 0 || sc->len - sc->pos < 3 || memcmp(sc->p + sc->pos, "}\r\n", 3) != 0)
			return false;
		sc->pos += 3;
		if (size > sc->len - sc->pos)
			return false;
		*s_r = xstrndup(sc->p + sc->pos, (size_t)size);
		sc->pos += (size_t)size;
		return true;
	}
	return false;
}

static bool expect(struct scan *sc, char c)
{
	skip_sp(sc);
	if (sc->pos >= sc->len || sc->p[sc->pos] != c)
		return false;
	sc->pos++;
	return true;
}

/* An address list (or NIL); the first address is kept (a group start
   counts, a group end first gives nothing). */
static bool read_addresses(struct scan *sc, struct imap_envelope_addr *first)
{
	skip_sp(sc);
	if (sc->len - sc->pos >= 3 && has_prefix_nocase(sc->p + sc->pos, 3, "NIL")) {
		sc->pos += 3;
		return true;
	}
	if (!expect(sc, '('))
		return false;
	for (size_t k = 0;; k++) {
		skip_sp(sc);
		if (sc->pos < sc->len && sc->p[sc->pos] == ')') {
			sc->pos++;
			return true;
		}
		char *f[4] = {NULL, NULL, NULL, NULL};
		bool ok = expect(sc, '(');
		for (size_t i = 0; ok && i < 4; i++)
			ok = read_nstring(sc, &f[i]);
		ok = ok && expect(sc, ')');
		if (ok && k == 0 && f[2]) {
			first->name = f[0];
			first->mailbox = f[2];
			first->host = f[3];
			f[0] = f[2] = f[3] = NULL;
		}
		for (size_t i = 0; i < 4; i++)
			free(f[i]);
		if (!ok)
			return false;
	}
}

static void addr_free(struct imap_envelope_addr *a)
{
	free(a->name);
	free(a->mailbox);
	free(a->host);
}

int imap_envelope_parse(const char *text, size_t len, struct imap_envelope *env)
{
	memset(env, 0, sizeof(*env));
	struct scan sc = {text, len, 0};
	struct imap_envelope_addr sender = {0}, reply_to = {0}, bcc = {0};
	bool ok = expect(&sc, '(') && read_nstring(&sc, &env->date) &&
	          read_nstring(&sc, &env->subject) && read_addresses(&sc, &env->from) &&
	          read_addresses(&sc, &sender) && read_addresses(&sc, &reply_to) &&
	          read_addresses(&sc, &env->to) && read_addresses(&sc, &env->cc) &&
	          read_addresses(&sc, &bcc) && read_nstring(&sc, &env->in_reply_to) &&
	          read_nstring(&sc, &env->message_id) && expect(&sc, ')');
	addr_free(&sender);
	addr_free(&reply_to);
	addr_free(&bcc);
	if (!ok) {
		imap_envelope_free(env);
		return -1;
	}
	return 0;
}

void imap_envelope_free(struct imap_envelope *env)
{
	free(env->date);
	free(env->subject);
	free(env->in_reply_to);
	free(env->message_id);
	addr_free(&env->from);
	addr_free(&env->to);
	addr_free(&env->cc);
	memset(env, 0, sizeof(*env));
}
