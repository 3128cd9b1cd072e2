/*
 * imap_parse_cond — the RFC 7162 parameters of SELECT / EXAMINE and the
 * modifiers of STORE, interpreted from the tokenizer's tree.
 *
 *     select-params  = SP "(" select-param *(SP select-param) ")"
 *     select-param   = "CONDSTORE" / "QRESYNC" SP "(" uidvalidity SP
 *                      mod-sequence-value [SP known-uids] [SP seq-match-data] ")"
 *     known-uids     = sequence-set           ; no "*"
 *     seq-match-data = "(" known-sequence-set SP known-uid-set ")"
 *     store-modifiers = SP "(" "UNCHANGEDSINCE" SP mod-sequence-valzer ")"
 *
 * mod-sequence-value is 1 to 2^63-1, mod-sequence-valzer 0 to 2^63-1. The
 * two halves of seq-match-data must name as many messages each, both
 * ascending (they pair up in order); each is bounded by the sequence-set
 * limits of imap_seqset_parse(), and the pairing by IMAP_MAX_SEQ_MATCH.
 */
#include "imap/imap_internal.h"

#include <stdlib.h>
#include <string.h>

static int bad(struct buf *why, const char *msg)
{
	if (why) {
		buf_reset(why);
		buf_puts(why, msg);
	}
	return -1;
}

/* A sequence set without "*" or "$"; 0 or -1. */
static int plain_set(const struct imap_arg *a, struct imap_seqset *set)
{
	if (a->type != IMAP_ARG_ATOM || imap_seqset_parse(a->value, set) < 0)
		return -1;
	if (set->saved)
		goto fail;
	for (size_t i = 0; i < set->nranges; i++)
		if (set->ranges[i].hi == IMAP_SEQ_STAR)
			goto fail;
	return 0;
fail:
	imap_seqset_free(set);
	return -1;
}

/* Number of values in a normalised set without "*". */
static uint64_t set_size(const struct imap_seqset *set)
{
	uint64_t n = 0;
	for (size_t i = 0; i < set->nranges; i++)
		n += (uint64_t)set->ranges[i].hi - set->ranges[i].lo + 1;
	return n;
}

/* seq-match-data: the two sets, expanded into pairs. */
static int seq_match(const struct imap_arg *a, struct imap_qresync *q, struct buf *why)
{
	if (a->type != IMAP_ARG_LIST || a->nlist != 2)
		return bad(why, "seq-match-data must be (sequence-set uid-set)");
	struct imap_seqset msns = {0}, uids = {0};
	if (plain_set(&a->list[0], &msns) < 0)
		return bad(why, "bad known-sequence-set");
	if (plain_set(&a->list[1], &uids) < 0) {
		imap_seqset_free(&msns);
		return bad(why, "bad known-uid-set");
	}
	uint64_t n = set_size(&msns);
	int rc = 0;
	if (n != set_size(&uids))
		rc = bad(why, "seq-match-data sets differ in size");
	else if (n > IMAP_MAX_SEQ_MATCH)
		rc = bad(why, "seq-match-data is too long");
	if (rc == 0) {
		q->match_msn = xmalloc((size_t)n * sizeof *q->match_msn);
		q->match_uid = xmalloc((size_t)n * sizeof *q->match_uid);
		size_t k = 0;
		for (size_t r = 0; r < msns.nranges; r++)
			for (uint64_t v = msns.ranges[r].lo; v <= msns.ranges[r].hi; v++)
				q->match_msn[k++] = (uint32_t)v;
		k = 0;
		for (size_t r = 0; r < uids.nranges; r++)
			for (uint64_t v = uids.ranges[r].lo; v <= uids.ranges[r].hi; v++)
				q->match_uid[k++] = (uint32_t)v;
		q->nmatch = (size_t)n;
	}
	imap_seqset_free(&msns);
	imap_seqset_free(&uids);
	return rc;
}

static int qresync(const struct imap_arg *a, struct imap_qresync *q, struct buf *why)
{
	if (a->type != IMAP_ARG_LIST || a->nlist < 2 || a->nlist > 4)
		return bad(why, "QRESYNC needs (uidvalidity modseq [known-uids] [seq-match])");
	const struct imap_arg *l = a->list;
	if (l[0].type != IMAP_ARG_ATOM || !imap_parse_nz_number(l[0].value, &q->uidvalidity))
		return bad(why, "bad QRESYNC uidvalidity");
	if (l[1].type != IMAP_ARG_ATOM || !imap_parse_number64(l[1].value, &q->modseq) ||
	    q->modseq == 0)
		return bad(why, "bad QRESYNC mod-sequence");
	size_t i = 2;
	if (i < a->nlist && l[i].type == IMAP_ARG_ATOM) {
		if (plain_set(&l[i], &q->known_uids) < 0)
			return bad(why, "bad QRESYNC known-uids");
		q->has_known_uids = true;
		i++;
	}
	if (i < a->nlist) {
		if (seq_match(&l[i], q, why) < 0)
			return -1;
		i++;
	}
	if (i != a->nlist)
		return bad(why, "malformed QRESYNC parameter");
	return 0;
}

int imap_select_params_parse(const struct imap_arg *arg, struct imap_select_params *p,
                             struct buf *why)
{
	memset(p, 0, sizeof *p);
	if (arg->type != IMAP_ARG_LIST || arg->nlist == 0)
		return bad(why, "SELECT parameters must be a non-empty list");
	for (size_t k = 0; k < arg->nlist; k++) {
		const struct imap_arg *a = &arg->list[k];
		int rc = 0;
		if (a->type != IMAP_ARG_ATOM)
			rc = bad(why, "malformed SELECT parameter");
		else if (str_eq_cstr_nocase(a->value, "CONDSTORE") && !p->condstore)
			p->condstore = true;
		else if (str_eq_cstr_nocase(a->value, "QRESYNC") && !p->qresync &&
		         k + 1 < arg->nlist) {
			p->qresync = true;
			rc = qresync(&arg->list[++k], &p->q, why);
		} else
			rc = bad(why, "unknown or repeated SELECT parameter");
		if (rc < 0) {
			imap_select_params_free(p);
			return -1;
		}
	}
	return 0;
}

void imap_select_params_free(struct imap_select_params *p)
{
	imap_seqset_free(&p->q.known_uids);
	free(p->q.match_msn);
	free(p->q.match_uid);
	memset(p, 0, sizeof *p);
}

int imap_store_modifiers_parse(const struct imap_arg *arg, uint64_t *unchangedsince_r,
                               struct buf *why)
{
	if (arg->type != IMAP_ARG_LIST || arg->nlist != 2 || arg->list[0].type != IMAP_ARG_ATOM ||
	    !str_eq_cstr_nocase(arg->list[0].value, "UNCHANGEDSINCE"))
		return bad(why, "STORE modifiers must be (UNCHANGEDSINCE mod-sequence)");
	if (arg->list[1].type != IMAP_ARG_ATOM ||
	    !imap_parse_number64(arg->list[1].value, unchangedsince_r))
		return bad(why, "UNCHANGEDSINCE needs a mod-sequence");
	return 0;
}
