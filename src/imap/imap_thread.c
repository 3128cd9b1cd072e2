/*
 * imap_thread — the threading algorithms of RFC 5256 (ORDEREDSUBJECT and
 * REFERENCES) as pure functions over what the command gathered of each
 * message, and the THREAD response's data.
 *
 * REFERENCES follows section 2 of the RFC step by step: containers by
 * Message-ID (a message without one, or with one an earlier message already
 * has, gets a container of its own), parent links from References (or the
 * first In-Reply-To id) that never change an existing link nor make a loop,
 * the message's own link to its last reference (an older link is broken
 * first), pruning of dummies, grouping of the roots by base subject, and
 * sorting siblings by date (mailbox order breaks ties; a dummy sorts as its
 * first child).
 *
 * Nothing here recurses: trees may be as deep as the mailbox is large, so
 * every walk keeps its own stack.
 */
#include "imap/imap_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- Message-IDs ------------------------------------------------------------------------- */

void imap_thread_msgids(const char *value, size_t len, size_t max, char ***ids_r, size_t *n_r)
{
	size_t i = 0;
	while (i < len && *n_r < max) {
		const char *lt = memchr(value + i, '<', len - i);
		if (!lt)
			break;
		size_t start = (size_t)(lt - value) + 1, k = start;
		while (k < len && value[k] != '>' && value[k] != '<')
			k++;
		if (k == len)
			break;
		if (value[k] == '<') {
			i = k; /* "<a <b@c>": start again at the inner one */
			continue;
		}
		struct buf id = BUF_INIT;
		buf_putc(&id, '<');
		bool at = false;
		for (size_t j = start; j < k; j++) {
			char c = value[j];
			if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
				continue;
			at |= c == '@';
			buf_putc(&id, c);
		}
		buf_putc(&id, '>');
		if (at && id.len > 3) {
			*ids_r = xrealloc(*ids_r, (*n_r + 1) * sizeof(**ids_r));
			(*ids_r)[(*n_r)++] = buf_steal(&id);
		}
		buf_free(&id);
		i = k + 1;
	}
}

void imap_thread_msgids_free(char ***ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free((*ids)[i]);
	xfree(ids);
}

/* ---- containers ------------------------------------------------------------------------ */

#define NONE SIZE_MAX

struct node {
	size_t msg;                       /* index in msgs, NONE for a dummy */
	size_t parent, first, last, next; /* children as a list */
	const char *id;
};

struct forest {
	const struct imap_thread_msg *msgs;
	struct node *v;
	size_t n, cap;
	/* Message-ID -> node (open addressing, power-of-two size) */
	size_t *table;
	size_t tcap;
};

static size_t node_new(struct forest *f, size_t msg, const char *id)
{
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 64;
		f->v = xrealloc(f->v, f->cap * sizeof(*f->v));
	}
	f->v[f->n] = (struct node){msg, NONE, NONE, NONE, NONE, id};
	return f->n++;
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* The slot of id in the table: where it is, or the empty one it would go to. */
static size_t slot_of(const struct forest *f, const char *id)
{
	size_t mask = f->tcap - 1, k = (size_t)hash_str(id) & mask;
	while (f->table[k] != NONE && strcmp(f->v[f->table[k]].id, id) != 0)
		k = (k + 1) & mask;
	return k;
}

/* The node of a Message-ID, created (as a dummy) when new. */
static size_t node_by_id(struct forest *f, const char *id)
{
	size_t k = slot_of(f, id);
	if (f->table[k] == NONE)
		f->table[k] = node_new(f, NONE, id);
	return f->table[k];
}

static void unlink_node(struct forest *f, size_t c)
{
	size_t p = f->v[c].parent;
	if (p == NONE)
		return;
	size_t prev = NONE;
	for (size_t k = f->v[p].first; k != c; k = f->v[k].next)
		prev = k;
	if (prev == NONE)
		f->v[p].first = f->v[c].next;
	else
		f->v[prev].next = f->v[c].next;
	if (f->v[p].last == c)
		f->v[p].last = prev;
	f->v[c].parent = NONE;
	f->v[c].next = NONE;
}

static void append_child(struct forest *f, size_t p, size_t c)
{
	f->v[c].parent = p;
	f->v[c].next = NONE;
	if (f->v[p].last == NONE)
		f->v[p].first = c;
	else
		f->v[f->v[p].last].next = c;
	f->v[p].last = c;
}

/* Whether a is b or one of b's ancestors. A childless a can only be b,
   which keeps a long chain of replies linear rather than quadratic. */
static bool is_ancestor(const struct forest *f, size_t a, size_t b)
{
	if (f->v[a].first == NONE)
		return a == b;
	for (size_t k = b; k != NONE; k = f->v[k].parent)
		if (k == a)
			return true;
	return false;
}

/* ---- ordering ---------------------------------------------------------------------------- */

/* The message a node sorts as: its own, or a dummy's first child's. */
static size_t sort_msg(const struct forest *f, size_t k)
{
	while (k != NONE && f->v[k].msg == NONE)
		k = f->v[k].first;
	return k == NONE ? NONE : f->v[k].msg;
}

static int cmp_msgs(const struct imap_thread_msg *msgs, size_t a, size_t b)
{
	if (a == NONE || b == NONE)
		return a == b ? 0 : a == NONE ? 1 : -1;
	if (msgs[a].date != msgs[b].date)
		return msgs[a].date < msgs[b].date ? -1 : 1;
	return a < b ? -1 : a > b;
}

static const struct forest *sort_forest; /* qsort's context: the loop thread only */

static int cmp_nodes(const void *x, const void *y)
{
	const struct forest *f = sort_forest;
	return cmp_msgs(f->msgs, sort_msg(f, *(const size_t *)x), sort_msg(f, *(const size_t *)y));
}

/* Sorts the child list of p (or the given vector of roots) by date. */
static void sort_children(struct forest *f, size_t p, size_t **tmp, size_t *tmpcap)
{
	size_t k = 0;
	for (size_t c = f->v[p].first; c != NONE; c = f->v[c].next) {
		if (k == *tmpcap) {
			*tmpcap = *tmpcap ? *tmpcap * 2 : 16;
			*tmp = xrealloc(*tmp, *tmpcap * sizeof(**tmp));
		}
		(*tmp)[k++] = c;
	}
	if (k < 2)
		return;
	sort_forest = f;
	qsort(*tmp, k, sizeof(**tmp), cmp_nodes);
	f->v[p].first = f->v[p].last = NONE;
	for (size_t i = 0; i < k; i++)
		append_child(f, p, (*tmp)[i]);
}

/* Nodes below root in post-order (children before their parent), root last. */
static size_t *post_order(const struct forest *f, size_t root, size_t *n_r)
{
	size_t *order = xmalloc(f->n * sizeof(*order)), n = 0;
	size_t *stack = xmalloc(f->n * sizeof(*stack)), sp = 0;
	/* Reverse post-order is a pre-order that visits children right to left;
	   take a plain pre-order and reverse it: children come before parents. */
	stack[sp++] = root;
	while (sp) {
		size_t k = stack[--sp];
		order[n++] = k;
		for (size_t c = f->v[k].first; c != NONE; c = f->v[c].next)
			stack[sp++] = c;
	}
	free(stack);
	for (size_t i = 0; i < n / 2; i++) {
		size_t t = order[i];
		order[i] = order[n - 1 - i];
		order[n - 1 - i] = t;
	}
	*n_r = n;
	return order;
}

/* ---- writing ------------------------------------------------------------------------------- */

enum put_step { PUT_OPEN, PUT_MEMBERS, PUT_CLOSE };

struct put_item {
	enum put_step step;
	size_t node;
};

/* The thread lists of the children of top ("(a b (c)(d))(e)"). */
static void put_threads(const struct forest *f, size_t top, struct buf *out)
{
	struct put_item *stack = xmalloc((3 * f->n + 3) * sizeof(*stack));
	size_t sp = 0;
	/* Children are pushed last first, so that the first comes off first:
	   count them, then fill their slots from the end. */
	size_t nkids = 0;
	for (size_t c = f->v[top].first; c != NONE; c = f->v[c].next)
		nkids++;
	size_t at = 3 * nkids;
	for (size_t c = f->v[top].first; c != NONE; c = f->v[c].next) {
		stack[--at] = (struct put_item){PUT_OPEN, c};
		stack[--at] = (struct put_item){PUT_MEMBERS, c};
		stack[--at] = (struct put_item){PUT_CLOSE, c};
	}
	sp = 3 * nkids;
	while (sp) {
		struct put_item it = stack[--sp];
		if (it.step == PUT_OPEN) {
			buf_putc(out, '(');
			continue;
		}
		if (it.step == PUT_CLOSE) {
			buf_putc(out, ')');
			continue;
		}
		/* a chain of single children, then the branches */
		size_t k = it.node;
		bool first = true;
		for (;;) {
			if (f->v[k].msg != NONE) {
				buf_printf(out, "%s%u", first ? "" : " ", f->msgs[f->v[k].msg].id);
				first = false;
			}
			size_t c = f->v[k].first;
			if (c == NONE)
				break;
			if (f->v[c].next == NONE) {
				k = c;
				continue;
			}
			if (!first)
				buf_putc(out, ' ');
			/* pushed last first: count, then walk from the end of the stack */
			nkids = 0;
			for (size_t d = c; d != NONE; d = f->v[d].next)
				nkids++;
			size_t end = sp + 3 * nkids;
			for (size_t d = c; d != NONE; d = f->v[d].next) {
				stack[--end] = (struct put_item){PUT_OPEN, d};
				stack[--end] = (struct put_item){PUT_MEMBERS, d};
				stack[--end] = (struct put_item){PUT_CLOSE, d};
			}
			sp += 3 * nkids;
			break;
		}
	}
	free(stack);
}

/* ---- ORDEREDSUBJECT ------------------------------------------------------------------------ */

static const struct imap_thread_msg *subject_msgs; /* qsort's context */

static int cmp_subject_date(const void *x, const void *y)
{
	size_t a = *(const size_t *)x, b = *(const size_t *)y;
	int r = strcmp(subject_msgs[a].subject, subject_msgs[b].subject);
	return r ? r : cmp_msgs(subject_msgs, a, b);
}

static void thread_orderedsubject(struct forest *f)
{
	size_t n = f->n - 1; /* node 0 is the top; nodes 1..n are messages */
	size_t *idx = xmalloc((n ? n : 1) * sizeof(*idx));
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	subject_msgs = f->msgs;
	qsort(idx, n, sizeof(*idx), cmp_subject_date);
	size_t root = NONE;
	for (size_t i = 0; i < n; i++) {
		size_t k = idx[i] + 1;
		if (root != NONE &&
		    strcmp(f->msgs[idx[i]].subject, f->msgs[f->v[root].msg].subject) == 0) {
			append_child(f, root, k);
		} else {
			root = k;
			append_child(f, 0, k);
		}
	}
	free(idx);
}

/* ---- REFERENCES ------------------------------------------------------------------------------ */

/* Step 1: containers and links. */
static void link_messages(struct forest *f, size_t nmsgs)
{
	for (size_t i = 0; i < nmsgs; i++) {
		const struct imap_thread_msg *m = &f->msgs[i];
		size_t self = NONE;
		if (m->msgid) {
			size_t k = slot_of(f, m->msgid);
			if (f->table[k] == NONE)
				f->table[k] = self = node_new(f, i, m->msgid);
			else if (f->v[f->table[k]].msg == NONE)
				f->v[self = f->table[k]].msg = i;
		}
		if (self == NONE) /* none, or a duplicate: a container of its own */
			self = node_new(f, i, NULL);
		size_t prev = NONE;
		for (size_t r = 0; r < m->nrefs; r++) {
			size_t cur = node_by_id(f, m->refs[r]);
			if (prev != NONE && cur != prev && f->v[cur].parent == NONE &&
			    !is_ancestor(f, cur, prev))
				append_child(f, prev, cur);
			prev = cur;
		}
		unlink_node(f, self);
		if (prev != NONE && prev != self && !is_ancestor(f, self, prev))
			append_child(f, prev, self);
	}
}

/* Step 4, for one node whose children are already pruned: drops empty
   dummies and promotes the children of the others (at the top, only of
   those with one child). */
static void prune_children(struct forest *f, size_t p, bool top)
{
	size_t c = f->v[p].first;
	f->v[p].first = f->v[p].last = NONE;
	while (c != NONE) {
		size_t next = f->v[c].next;
		struct node *k = &f->v[c];
		if (k->msg != NONE || (top && k->first != NONE && f->v[k->first].next != NONE)) {
			append_child(f, p, c);
		} else {
			for (size_t g = k->first; g != NONE;) {
				size_t gn = f->v[g].next;
				append_child(f, p, g);
				g = gn;
			}
			k->first = k->last = NONE;
			k->parent = NONE;
		}
		c = next;
	}
}

static const char *node_subject(const struct forest *f, size_t k)
{
	size_t m = f->v[k].msg != NONE     ? f->v[k].msg
	           : f->v[k].first != NONE ? f->v[f->v[k].first].msg
	                                   : NONE;
	return m == NONE ? "" : f->msgs[m].subject;
}

static bool node_reply(const struct forest *f, size_t k)
{
	return f->v[k].msg != NONE && f->msgs[f->v[k].msg].reply;
}

/* Step 5: roots with the same base subject go together. */
static void group_subjects(struct forest *f, size_t top)
{
	size_t nroots = 0;
	for (size_t c = f->v[top].first; c != NONE; c = f->v[c].next)
		nroots++;
	if (nroots < 2)
		return;
	size_t *roots = xmalloc(nroots * sizeof(*roots)), i = 0;
	for (size_t c = f->v[top].first; c != NONE; c = f->v[c].next)
		roots[i++] = c;
	size_t cap = 16;
	while (cap < nroots * 2)
		cap *= 2;
	/* subject -> index in roots */
	size_t *table = xmalloc(cap * sizeof(*table));
	for (size_t k = 0; k < cap; k++)
		table[k] = NONE;
	size_t mask = cap - 1;
#define SUBJECT_SLOT(subj, k_r)                                                                    \
	do {                                                                                       \
		size_t k_ = (size_t)hash_str(subj) & mask;                                         \
		while (table[k_] != NONE && strcmp(node_subject(f, roots[table[k_]]), subj) != 0)  \
			k_ = (k_ + 1) & mask;                                                      \
		*(k_r) = k_;                                                                       \
	} while (0)
	for (i = 0; i < nroots; i++) {
		const char *subj = node_subject(f, roots[i]);
		if (!*subj)
			continue;
		size_t k;
		SUBJECT_SLOT(subj, &k);
		if (table[k] == NONE) {
			table[k] = i;
			continue;
		}
		size_t t = roots[table[k]], c = roots[i];
		bool c_dummy = f->v[c].msg == NONE, t_dummy = f->v[t].msg == NONE;
		if ((c_dummy && !t_dummy) ||
		    (!t_dummy && !c_dummy && node_reply(f, t) && !node_reply(f, c)))
			table[k] = i;
	}
	for (i = 0; i < nroots; i++) {
		size_t c = roots[i];
		if (c == NONE)
			continue;
		const char *subj = node_subject(f, c);
		if (!*subj)
			continue;
		size_t k;
		SUBJECT_SLOT(subj, &k);
		size_t ti = table[k], t = roots[ti];
		if (t == c)
			continue;
		bool c_dummy = f->v[c].msg == NONE, t_dummy = f->v[t].msg == NONE;
		if (t_dummy && c_dummy) {
			for (size_t g = f->v[c].first; g != NONE;) {
				size_t gn = f->v[g].next;
				append_child(f, t, g);
				g = gn;
			}
			f->v[c].first = f->v[c].last = NONE;
		} else if (t_dummy) {
			append_child(f, t, c);
		} else if (c_dummy) {
			append_child(f, c, t);
			roots[ti] = c;
		} else if (!node_reply(f, t) && node_reply(f, c)) {
			append_child(f, t, c);
		} else if (node_reply(f, t) && !node_reply(f, c)) {
			append_child(f, c, t);
			roots[ti] = c;
		} else {
			size_t d = node_new(f, NONE, NULL);
			append_child(f, d, t);
			append_child(f, d, c);
			roots[ti] = d;
		}
		roots[i] = NONE;
	}
#undef SUBJECT_SLOT
	/* the new root list, in the old order */
	f->v[top].first = f->v[top].last = NONE;
	for (i = 0; i < nroots; i++)
		if (roots[i] != NONE)
			append_child(f, top, roots[i]);
	free(roots);
	free(table);
}

/* Returns the top node, whose children are the threads. */
static size_t thread_references(struct forest *f, size_t nmsgs)
{
	size_t ids = 0;
	for (size_t i = 0; i < nmsgs; i++)
		ids += 1 + f->msgs[i].nrefs;
	f->tcap = 16;
	while (f->tcap < ids * 2)
		f->tcap *= 2;
	f->table = xmalloc(f->tcap * sizeof(*f->table));
	for (size_t k = 0; k < f->tcap; k++)
		f->table[k] = NONE;
	link_messages(f, nmsgs);
	/* Step 2: the roots under one top node. */
	size_t top = node_new(f, NONE, NULL);
	for (size_t k = 0; k < top; k++)
		if (f->v[k].parent == NONE)
			append_child(f, top, k);
	/* Step 3: the table is no longer needed. */
	xfree(&f->table);
	/* Step 4 */
	size_t n, *order = post_order(f, top, &n);
	for (size_t i = 0; i < n; i++)
		prune_children(f, order[i], order[i] == top);
	free(order);
	/* Step 5 */
	group_subjects(f, top);
	/* Step 6 */
	size_t *tmp = NULL, tmpcap = 0;
	order = post_order(f, top, &n);
	for (size_t i = 0; i < n; i++)
		sort_children(f, order[i], &tmp, &tmpcap);
	free(order);
	free(tmp);
	return top;
}

void imap_thread(enum imap_thread_alg alg, const struct imap_thread_msg *msgs, size_t n,
                 struct buf *out)
{
	struct forest f = {.msgs = msgs};
	if (alg == IMAP_THREAD_ORDEREDSUBJECT) {
		node_new(&f, NONE, NULL); /* the top */
		for (size_t i = 0; i < n; i++)
			node_new(&f, i, NULL);
		thread_orderedsubject(&f);
		size_t *tmp = NULL, tmpcap = 0;
		sort_children(&f, 0, &tmp, &tmpcap);
		free(tmp);
		put_threads(&f, 0, out);
	} else {
		put_threads(&f, thread_references(&f, n), out);
	}
	free(f.v);
	free(f.table);
}
