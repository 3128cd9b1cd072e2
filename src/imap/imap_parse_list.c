/*
 * imap_parse_list — the arguments of LIST (RFC 9051 6.3.9 with LIST-EXTENDED,
 * RFC 5258, LIST-STATUS, RFC 5819, and the SPECIAL-USE options of RFC 6154)
 * and of APPEND (MULTIAPPEND, RFC 3502; literal8, RFC 3516; UTF8 data,
 * RFC 6855), as pure interpretations of the tokenizer's tree.
 *
 *     list             = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat
 *                        [SP list-return-opts]
 *     list-select-opts = "(" [option *(SP option)] ")"
 *     mbox-or-pat      = list-mailbox / "(" list-mailbox *(SP list-mailbox) ")"
 *     list-return-opts = "RETURN" SP "(" [return-option *(SP return-option)] ")"
 *     return-option    = "SUBSCRIBED" / "CHILDREN" / "SPECIAL-USE" /
 *                        "STATUS" SP "(" status-att *(SP status-att) ")"
 *
 *     append           = "APPEND" SP mailbox 1*append-message
 *     append-message   = [SP flag-list] [SP date-time] SP append-data
 *     append-data      = literal / literal8 / "UTF8" SP "(" literal8 ")"
 *
 * Option names are case-insensitive. Selection options are SUBSCRIBED,
 * REMOTE, RECURSIVEMATCH and SPECIAL-USE; RECURSIVEMATCH alone (or with
 * REMOTE only) is an error (RFC 5258 3.1). Unknown options are errors: none
 * of them is an extension this server could ignore. STATUS items are only
 * checked to be atoms here: which ones exist is the STATUS command's list.
 */
#include "imap/imap_internal.h"

#include <string.h>

static const struct {
	const char *name;
	unsigned bit;
	bool select, ret;
} list_options[] = {
        {"SUBSCRIBED", IMAP_LIST_SUBSCRIBED, true, true},
        {"REMOTE", IMAP_LIST_REMOTE, true, false},
        {"RECURSIVEMATCH", IMAP_LIST_RECURSIVEMATCH, true, false},
        {"SPECIAL-USE", IMAP_LIST_SPECIAL_USE, true, true},
        {"CHILDREN", IMAP_LIST_CHILDREN, false, true},
        {"STATUS", IMAP_LIST_STATUS, false, true},
};

static unsigned option_bit(const struct imap_arg *a, bool select)
{
	if (a->type != IMAP_ARG_ATOM)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(list_options); i++)
		if ((select ? list_options[i].select : list_options[i].ret) &&
		    str_eq_cstr_nocase(a->value, list_options[i].name))
			return list_options[i].bit;
	return 0;
}

static int list_fail(struct imap_list_args *l, struct buf *why, const char *reason)
{
	*l = (struct imap_list_args){0};
	buf_puts(why, reason);
	return -1;
}

int imap_list_parse(const struct imap_arg *args, size_t nargs, struct imap_list_args *l,
                    struct buf *why)
{
	*l = (struct imap_list_args){0};
	size_t i = 0;
	if (nargs > 0 && args[0].type == IMAP_ARG_LIST) {
		l->extended = true;
		for (size_t k = 0; k < args[0].nlist; k++) {
			unsigned bit = option_bit(&args[0].list[k], true);
			if (!bit)
				return list_fail(l, why, "Unknown LIST selection option");
			l->select |= bit;
		}
		if ((l->select & IMAP_LIST_RECURSIVEMATCH) &&
		    !(l->select & (IMAP_LIST_SUBSCRIBED | IMAP_LIST_SPECIAL_USE)))
			return list_fail(l, why, "RECURSIVEMATCH needs another selection option");
		i = 1;
	}
	if (nargs < i + 2 || !imap_arg_is_string(&args[i]))
		return list_fail(l, why, "Syntax: LIST [(options)] reference pattern");
	l->ref = &args[i++];
	const struct imap_arg *pat = &args[i++];
	if (pat->type == IMAP_ARG_LIST) {
		if (pat->nlist == 0)
			return list_fail(l, why, "Empty list of patterns");
		for (size_t k = 0; k < pat->nlist; k++)
			if (!imap_arg_is_string(&pat->list[k]))
				return list_fail(l, why, "A pattern must be a string");
		l->extended = true;
		l->patterns = pat->list;
		l->npatterns = pat->nlist;
	} else if (imap_arg_is_string(pat)) {
		l->patterns = pat;
		l->npatterns = 1;
	} else {
		return list_fail(l, why, "A pattern must be a string");
	}
	if (i == nargs)
		return 0;
	if (nargs != i + 2 || args[i].type != IMAP_ARG_ATOM ||
	    !str_eq_cstr_nocase(args[i].value, "RETURN") || args[i + 1].type != IMAP_ARG_LIST)
		return list_fail(l, why, "Syntax: LIST ... RETURN (options)");
	l->extended = true;
	const struct imap_arg *ret = &args[i + 1];
	for (size_t k = 0; k < ret->nlist; k++) {
		unsigned bit = option_bit(&ret->list[k], false);
		if (!bit)
			return list_fail(l, why, "Unknown LIST return option");
		if (bit == IMAP_LIST_STATUS) {
			const struct imap_arg *items =
			        k + 1 < ret->nlist ? &ret->list[k + 1] : NULL;
			if (!items || items->type != IMAP_ARG_LIST || items->nlist == 0)
				return list_fail(l, why, "Syntax: RETURN (STATUS (items))");
			for (size_t n = 0; n < items->nlist; n++)
				if (items->list[n].type != IMAP_ARG_ATOM)
					return list_fail(l, why, "Bad STATUS item");
			l->status = items;
			k++;
		}
		l->ret |= bit;
	}
	return 0;
}

/* ---- APPEND ------------------------------------------------------------------------------ */

uint64_t imap_append_total(uint64_t max_message)
{
	return max_message > IMAP_MAX_APPEND_TOTAL ? max_message : IMAP_MAX_APPEND_TOTAL;
}

uint64_t imap_append_literal_max(uint64_t used, uint64_t max_message)
{
	uint64_t total = imap_append_total(max_message);
	uint64_t left = used < total ? total - used : 0;
	return left < max_message ? left : max_message;
}

static int append_fail(struct imap_append_msg **msgs_r, size_t *n_r, struct buf *why,
                       const char *reason)
{
	xfree(msgs_r);
	*n_r = 0;
	buf_puts(why, reason);
	return -1;
}

int imap_append_parse(const struct imap_arg *args, size_t nargs, struct imap_append_msg **msgs_r,
                      size_t *n_r, struct buf *why)
{
	*msgs_r = NULL;
	*n_r = 0;
	size_t i = 0;
	if (nargs == 0)
		return append_fail(msgs_r, n_r, why,
		                   "Syntax: APPEND mailbox [(flags)] [date] {size}");
	while (i < nargs) {
		if (*n_r == IMAP_MAX_APPEND_MESSAGES)
			return append_fail(msgs_r, n_r, why,
			                   "[LIMIT] Too many messages in one APPEND");
		struct imap_append_msg m = {0};
		if (args[i].type == IMAP_ARG_LIST)
			m.flags = &args[i++];
		int64_t t;
		if (i < nargs && args[i].type == IMAP_ARG_STRING) {
			if (imap_parse_datetime(args[i].value, &t) < 0)
				return append_fail(msgs_r, n_r, why, "Bad APPEND date-time");
			m.date = &args[i++];
		}
		if (i < nargs && args[i].type == IMAP_ARG_LITERAL) {
			m.data = args[i].value;
			m.binary = args[i].binary;
			i++;
		} else if (i + 1 < nargs && args[i].type == IMAP_ARG_ATOM &&
		           str_eq_cstr_nocase(args[i].value, "UTF8") &&
		           args[i + 1].type == IMAP_ARG_LIST && args[i + 1].nlist == 1 &&
		           args[i + 1].list[0].type == IMAP_ARG_LITERAL) {
			m.data = args[i + 1].list[0].value;
			m.binary = args[i + 1].list[0].binary;
			m.utf8 = true;
			i += 2;
		} else if (i + 1 < nargs && args[i].type == IMAP_ARG_ATOM &&
		           str_eq_cstr_nocase(args[i].value, "CATENATE") &&
		           args[i + 1].type == IMAP_ARG_LIST && args[i + 1].nlist > 0) {
			m.catenate = &args[i + 1]; /* RFC 4469: the session checks its parts */
			i += 2;
		} else {
			return append_fail(msgs_r, n_r, why,
			                   "Syntax: APPEND mailbox [(flags)] [date] {size}");
		}
		*msgs_r = xrealloc(*msgs_r, (*n_r + 1) * sizeof **msgs_r);
		(*msgs_r)[(*n_r)++] = m;
	}
	return 0;
}
