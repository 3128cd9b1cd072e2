/*
 * imap_seqset — sequence sets (RFC 9051 section 9: sequence-set, seq-range,
 * seq-number; RFC 5182: "$").
 *
 *     sequence-set = (seq-number / seq-range) ["," sequence-set] / "$"
 *     seq-range    = seq-number ":" seq-number
 *     seq-number   = nz-number / "*"
 *
 * "$" stands alone (imap_seqset_contains() finds nothing in it: the session
 * substitutes the saved result). A range may be written either way round
 * ("5:2"). "*" is the largest number in use, max, so "20:*" with max 10 is
 * 10:20 (it holds 10, and also 15, which matters for expunged UIDs).
 *
 * After parsing, the ranges are normalised so that membership is a binary
 * search: finite ranges sorted by lo with overlapping or adjacent ones merged,
 * then the ranges ending in "*" (whose extent is known only with max), of which
 * only two matter: the one with the smallest lo and the one with the largest
 * numeric lo. Each covers max, so together they cover what the others would.
 *
 * The number 4294967295 is the largest nz-number, but IMAP_SEQ_STAR stands
 * for "*": it is read as 4294967294. No message can have that number (UIDNEXT
 * stops at 4294967295, and no mailbox holds four billion messages), so every
 * membership stays what it was; and "n:4294967295" is not "n:*", which holds
 * the highest number in use even when n is above it.
 */
#include "imap/imap_internal.h"

#include <stdlib.h>
#include <string.h>

typedef __typeof__(*((struct imap_seqset *)0)->ranges) seq_range;

static int cmp_range(const void *pa, const void *pb)
{
	const seq_range *a = pa, *b = pb;
	bool sa = a->hi == IMAP_SEQ_STAR, sb = b->hi == IMAP_SEQ_STAR;
	if (sa != sb)
		return sa ? 1 : -1;
	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	if (a->hi != b->hi)
		return a->hi < b->hi ? -1 : 1;
	return 0;
}

/* Reads one seq-number ending at a ":" "," or the end; false when malformed. */
static bool read_seq_number(const char *p, size_t len, size_t *i, uint32_t *n_r)
{
	size_t start = *i;
	if (start < len && p[start] == '*') {
		*i = start + 1;
		*n_r = IMAP_SEQ_STAR;
		return true;
	}
	size_t k = start;
	while (k < len && p[k] >= '0' && p[k] <= '9')
		k++;
	if (!imap_parse_nz_number((struct str){p + start, k - start}, n_r))
		return false;
	if (*n_r == IMAP_SEQ_STAR)
		*n_r = IMAP_SEQ_STAR - 1;
	*i = k;
	return true;
}

static void normalise(struct imap_seqset *set)
{
	qsort(set->ranges, set->nranges, sizeof(*set->ranges), cmp_range);
	size_t out = 0, k = 0;
	for (; k < set->nranges && set->ranges[k].hi != IMAP_SEQ_STAR; k++) {
		seq_range r = set->ranges[k];
		seq_range *last = out ? &set->ranges[out - 1] : NULL;
		if (last && (uint64_t)r.lo <= (uint64_t)last->hi + 1) {
			if (r.hi > last->hi)
				last->hi = r.hi;
			continue;
		}
		set->ranges[out++] = r;
	}
	if (k < set->nranges) {
		/* Star ranges, sorted by lo: keep the first and the last whose lo is
		   a number ("*:*" reaches only max, which every star range holds). */
		size_t last = set->nranges - 1;
		while (last > k && set->ranges[last].lo == IMAP_SEQ_STAR)
			last--;
		seq_range first = set->ranges[k], far = set->ranges[last];
		set->ranges[out++] = first;
		if (far.lo != first.lo)
			set->ranges[out++] = far;
	}
	set->nranges = out;
}

int imap_seqset_parse(struct str text, struct imap_seqset *set)
{
	memset(set, 0, sizeof(*set));
	if (text.len == 1 && text.p[0] == '$') {
		set->saved = true;
		return 0;
	}
	if (text.len == 0)
		return -1;
	size_t n = 1;
	for (size_t k = 0; k < text.len; k++)
		if (text.p[k] == ',' && ++n > IMAP_MAX_SEQ_RANGES)
			return -1;
	set->ranges = xcalloc(n, sizeof(*set->ranges));
	size_t i = 0;
	for (;;) {
		uint32_t a, b;
		if (!read_seq_number(text.p, text.len, &i, &a))
			goto bad;
		b = a;
		if (i < text.len && text.p[i] == ':') {
			i++;
			if (!read_seq_number(text.p, text.len, &i, &b))
				goto bad;
		}
		set->ranges[set->nranges].lo = a < b ? a : b;
		set->ranges[set->nranges].hi = a < b ? b : a;
		set->nranges++;
		if (i == text.len)
			break;
		if (text.p[i] != ',')
			goto bad;
		i++;
	}
	normalise(set);
	return 0;
bad:
	imap_seqset_free(set);
	return -1;
}

void imap_seqset_free(struct imap_seqset *set)
{
	free(set->ranges);
	memset(set, 0, sizeof(*set));
}

bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n, uint32_t max)
{
	size_t nfinite = set->nranges;
	while (nfinite > 0 && set->ranges[nfinite - 1].hi == IMAP_SEQ_STAR) {
		nfinite--;
		uint32_t lo =
		        set->ranges[nfinite].lo == IMAP_SEQ_STAR ? max : set->ranges[nfinite].lo;
		if ((n >= lo && n <= max) || (n >= max && n <= lo))
			return true;
	}
	size_t a = 0, b = nfinite;
	while (a < b) {
		size_t m = a + (b - a) / 2;
		if (n < set->ranges[m].lo)
			b = m;
		else if (n > set->ranges[m].hi)
			a = m + 1;
		else
			return true;
	}
	return false;
}
