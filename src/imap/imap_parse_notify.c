/*
 * imap_parse_notify — the NOTIFY command's arguments (RFC 5465), interpreted
 * from the tokenizer's tree.
 *
 *     notify          = "NOTIFY" SP (notify-set / "NONE")
 *     notify-set      = "SET" [SP "STATUS"] SP event-group *(SP event-group)
 *     event-group     = "(" filter-mailboxes SP events ")"
 *     filter-mailboxes = "SELECTED" / "SELECTED-DELAYED" / "INBOXES" /
 *                       "PERSONAL" / "SUBSCRIBED" /
 *                       ("SUBTREE" SP one-or-more-mailbox) /
 *                       ("MAILBOXES" SP one-or-more-mailbox)
 *     one-or-more-mailbox = mailbox / "(" mailbox *(SP mailbox) ")"
 *     events          = ("(" event *(SP event) ")") / "NONE"
 *     event           = ("MessageNew" [SP "(" fetch-att *(SP fetch-att) ")"]) /
 *                       "MessageExpunge" / "FlagChange" / "AnnotationChange" /
 *                       "MailboxName" / "SubscriptionChange" /
 *                       "MailboxMetadataChange" / "ServerMetadataChange" / atom
 *
 * Rules of RFC 5465 sections 5 and 6.1 checked here, for the selected
 * mailbox: MessageNew and MessageExpunge come together, FlagChange needs
 * them, only message events; fetch attributes only there, at most one
 * SELECTED group. Other mailboxes take single events (as Dovecot does). Events petrel does not
 * support (annotations, metadata, unknown atoms) make the whole command
 * fail with -2, for "NO [BADEVENT (...)]". Mailbox names stay as the client
 * wrote them (the session decodes them).
 */
#include "imap/imap_internal.h"

#include <stdlib.h>
#include <string.h>

static int bad(struct buf *why, int rc, const char *msg)
{
	if (why) {
		buf_reset(why);
		buf_puts(why, msg);
	}
	return rc;
}

static const struct {
	const char *name;
	unsigned bit; /* 0: an event petrel does not support */
} events[] = {
        {"MessageNew", IMAP_NOTIFY_MESSAGE_NEW},
        {"MessageExpunge", IMAP_NOTIFY_MESSAGE_EXPUNGE},
        {"FlagChange", IMAP_NOTIFY_FLAG_CHANGE},
        {"MailboxName", IMAP_NOTIFY_MAILBOX_NAME},
        {"SubscriptionChange", IMAP_NOTIFY_SUBSCRIPTION_CHANGE},
        {"AnnotationChange", 0},
        {"MailboxMetadataChange", 0},
        {"ServerMetadataChange", 0},
};

static const struct {
	const char *name;
	enum imap_notify_filter filter;
} filters[] = {
        {"SELECTED", IMAP_NOTIFY_SELECTED},     {"SELECTED-DELAYED", IMAP_NOTIFY_SELECTED_DELAYED},
        {"INBOXES", IMAP_NOTIFY_INBOXES},       {"PERSONAL", IMAP_NOTIFY_PERSONAL},
        {"SUBSCRIBED", IMAP_NOTIFY_SUBSCRIBED}, {"SUBTREE", IMAP_NOTIFY_SUBTREE},
        {"MAILBOXES", IMAP_NOTIFY_MAILBOXES},
};

static int add_name(struct imap_notify_group *g, const struct imap_arg *a, size_t *total,
                    struct buf *why)
{
	if (!imap_arg_is_string(a) || a->value.len == 0 || memchr(a->value.p, 0, a->value.len))
		return bad(why, -1, "bad mailbox name in NOTIFY");
	if (++*total > IMAP_MAX_NOTIFY_NAMES)
		return bad(why, -1, "too many mailboxes in NOTIFY");
	g->names = xrealloc(g->names, (g->nnames + 1) * sizeof *g->names);
	g->names[g->nnames++] = str_dup(a->value);
	return 0;
}

static int parse_events(const struct imap_arg *a, struct imap_notify_group *g, struct buf *why)
{
	if (a->type == IMAP_ARG_ATOM && str_eq_cstr_nocase(a->value, "NONE"))
		return 0;
	if (a->type != IMAP_ARG_LIST || a->nlist == 0)
		return bad(why, -1, "NOTIFY events must be NONE or a non-empty list");
	bool selected =
	        g->filter == IMAP_NOTIFY_SELECTED || g->filter == IMAP_NOTIFY_SELECTED_DELAYED;
	bool unsupported = false;
	for (size_t i = 0; i < a->nlist; i++) {
		const struct imap_arg *e = &a->list[i];
		if (e->type != IMAP_ARG_ATOM)
			return bad(why, -1, "malformed NOTIFY event");
		size_t k = 0;
		while (k < ARRAY_SIZE(events) && !str_eq_cstr_nocase(e->value, events[k].name))
			k++;
		if (k == ARRAY_SIZE(events) || !events[k].bit) {
			unsupported = true;
			continue;
		}
		if (g->events & events[k].bit)
			return bad(why, -1, "NOTIFY event given twice");
		g->events |= events[k].bit;
		if (events[k].bit == IMAP_NOTIFY_MESSAGE_NEW && i + 1 < a->nlist &&
		    a->list[i + 1].type == IMAP_ARG_LIST) {
			if (!selected)
				return bad(why, -1,
				           "fetch attributes only for the selected mailbox");
			if (imap_fetch_parse(&a->list[i + 1], 1, &g->fetch, why) < 0)
				return -1;
			g->has_fetch = true;
			i++;
		}
	}
	/* For the selected mailbox message numbers must stay right, so the
	   pairs are enforced there; for other mailboxes, which get STATUS
	   answers, one event alone is taken as Dovecot takes it. */
	unsigned ne = IMAP_NOTIFY_MESSAGE_NEW | IMAP_NOTIFY_MESSAGE_EXPUNGE;
	if (selected && (g->events & ne) && (g->events & ne) != ne)
		return bad(why, -1, "MessageNew and MessageExpunge go together");
	if (selected && (g->events & IMAP_NOTIFY_FLAG_CHANGE) && !(g->events & ne))
		return bad(why, -1, "FlagChange needs MessageNew and MessageExpunge");
	if (selected && (g->events & ~IMAP_NOTIFY_MESSAGE_EVENTS))
		return bad(why, -1, "only message events for the selected mailbox");
	if (unsupported)
		return bad(why, -2, "unsupported NOTIFY event");
	return 0;
}

static int parse_group(const struct imap_arg *a, struct imap_notify_spec *spec, size_t *total,
                       struct buf *why)
{
	if (a->type != IMAP_ARG_LIST || a->nlist < 2)
		return bad(why, -1, "NOTIFY event group must be (filter events)");
	const struct imap_arg *l = a->list;
	if (l[0].type != IMAP_ARG_ATOM)
		return bad(why, -1, "malformed NOTIFY filter");
	size_t k = 0;
	while (k < ARRAY_SIZE(filters) && !str_eq_cstr_nocase(l[0].value, filters[k].name))
		k++;
	if (k == ARRAY_SIZE(filters))
		return bad(why, -1, "unknown NOTIFY filter");
	if (spec->ngroups == IMAP_MAX_NOTIFY_GROUPS)
		return bad(why, -1, "too many NOTIFY event groups");
	spec->groups = xrealloc(spec->groups, (spec->ngroups + 1) * sizeof *spec->groups);
	struct imap_notify_group *g = &spec->groups[spec->ngroups++];
	memset(g, 0, sizeof *g);
	g->filter = filters[k].filter;
	size_t i = 1;
	if (g->filter == IMAP_NOTIFY_SUBTREE || g->filter == IMAP_NOTIFY_MAILBOXES) {
		if (a->nlist != 3)
			return bad(why, -1, "SUBTREE and MAILBOXES need mailboxes and events");
		if (l[1].type == IMAP_ARG_LIST) {
			if (l[1].nlist == 0)
				return bad(why, -1, "empty mailbox list in NOTIFY");
			for (size_t j = 0; j < l[1].nlist; j++)
				if (add_name(g, &l[1].list[j], total, why) < 0)
					return -1;
		} else if (add_name(g, &l[1], total, why) < 0) {
			return -1;
		}
		i = 2;
	} else if (a->nlist != 2) {
		return bad(why, -1, "malformed NOTIFY event group");
	}
	if (g->filter == IMAP_NOTIFY_SELECTED || g->filter == IMAP_NOTIFY_SELECTED_DELAYED) {
		for (size_t j = 0; j + 1 < spec->ngroups; j++)
			if (spec->groups[j].filter == IMAP_NOTIFY_SELECTED ||
			    spec->groups[j].filter == IMAP_NOTIFY_SELECTED_DELAYED)
				return bad(why, -1, "SELECTED given twice");
	}
	return parse_events(&l[i], g, why);
}

int imap_notify_parse(const struct imap_arg *args, size_t nargs, struct imap_notify_spec *spec,
                      struct buf *why)
{
	memset(spec, 0, sizeof *spec);
	if (nargs == 1 && args[0].type == IMAP_ARG_ATOM &&
	    str_eq_cstr_nocase(args[0].value, "NONE")) {
		spec->none = true;
		return 0;
	}
	if (nargs < 2 || args[0].type != IMAP_ARG_ATOM || !str_eq_cstr_nocase(args[0].value, "SET"))
		return bad(why, -1,
		           "Syntax: NOTIFY NONE or NOTIFY SET [STATUS] (filter events) ...");
	size_t i = 1, total = 0;
	if (args[1].type == IMAP_ARG_ATOM && str_eq_cstr_nocase(args[1].value, "STATUS")) {
		spec->status = true;
		i++;
	}
	if (i == nargs)
		return bad(why, -1, "NOTIFY SET needs an event group");
	int rc = 0, unsupported = 0;
	for (; i < nargs; i++) {
		rc = parse_group(&args[i], spec, &total, why);
		if (rc == -2)
			unsupported = 1; /* still check the rest for syntax */
		else if (rc < 0)
			break;
	}
	if (rc == -1 || unsupported) {
		imap_notify_spec_free(spec);
		return rc == -1 ? -1 : bad(why, -2, "unsupported NOTIFY event");
	}
	return 0;
}

void imap_notify_spec_free(struct imap_notify_spec *spec)
{
	for (size_t i = 0; i < spec->ngroups; i++) {
		struct imap_notify_group *g = &spec->groups[i];
		for (size_t j = 0; j < g->nnames; j++)
			free(g->names[j]);
		free(g->names);
		imap_fetch_spec_free(&g->fetch);
	}
	free(spec->groups);
	memset(spec, 0, sizeof *spec);
}
