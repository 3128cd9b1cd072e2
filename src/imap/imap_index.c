/*
 * imap_index — the compact index of a selected mailbox (see imap_internal.h):
 * UIDs and flag bytes side by side, keyword sets interned once per distinct
 * set, and the per-command metadata arrays (struct imap_meta).
 *
 * Keyword sets are found again by an open-addressing hash of their names,
 * compared exactly (same names, same order, same case: the store gives a
 * message's keywords sorted by name), so interning costs the same however
 * many sets there are. Sets live as long as the index: a session makes a new
 * one only for a combination of keywords it has not seen in this mailbox.
 */
#include "imap/imap_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- keyword sets -------------------------------------------------------------------- */

static uint32_t names_hash(char **names)
{
	uint32_t h = 2166136261u; /* FNV-1a, a 0 byte after each name */
	for (; *names; names++) {
		for (const unsigned char *p = (const unsigned char *)*names; *p; p++)
			h = (h ^ *p) * 16777619u;
		h *= 16777619u;
	}
	return h;
}

static bool names_same(char **a, char **b)
{
	for (; *a && *b; a++, b++)
		if (strcmp(*a, *b) != 0)
			return false;
	return !*a && !*b;
}

static char **names_dup(char **v)
{
	size_t n = 0;
	while (v[n])
		n++;
	char **c = xcalloc(n + 1, sizeof *c);
	for (size_t i = 0; i < n; i++)
		c[i] = xstrdup(v[i]);
	return c;
}

/* The slot of names in the hash: where its id is, or the free slot for it. */
static size_t hash_slot(const struct imap_index *x, char **names)
{
	size_t mask = x->hash_cap - 1;
	size_t i = names_hash(names) & mask;
	while (x->hash[i] && !names_same(x->sets[x->hash[i] - 1], names))
		i = (i + 1) & mask;
	return i;
}

static void hash_grow(struct imap_index *x)
{
	free(x->hash);
	x->hash_cap = x->hash_cap ? x->hash_cap * 2 : 16;
	x->hash = xcalloc(x->hash_cap, sizeof *x->hash);
	for (size_t id = 1; id <= x->nsets; id++)
		x->hash[hash_slot(x, x->sets[id - 1])] = (uint32_t)id;
}

/* The id of the set names (0 for none), added when new. */
static uint32_t set_intern(struct imap_index *x, char **names)
{
	if (!names || !*names)
		return 0;
	if (x->hash_cap) {
		uint32_t id = x->hash[hash_slot(x, names)];
		if (id)
			return id;
	}
	if ((x->nsets + 1) * 2 > x->hash_cap)
		hash_grow(x);
	if (x->nsets == UINT32_MAX)
		panic("imap: keyword sets exhausted");
	if (x->nsets == x->sets_cap) {
		x->sets_cap = x->sets_cap ? x->sets_cap * 2 : 4;
		x->sets = xrealloc(x->sets, x->sets_cap * sizeof *x->sets);
	}
	x->sets[x->nsets++] = names_dup(names);
	uint32_t id = (uint32_t)x->nsets;
	x->hash[hash_slot(x, names)] = id;
	return id;
}

/* ---- per-message set ids ------------------------------------------------------------- */

static uint32_t kw_get(const struct imap_index *x, size_t i)
{
	if (!x->kw)
		return 0;
	return x->kw_size == 2 ? ((const uint16_t *)x->kw)[i] : ((const uint32_t *)x->kw)[i];
}

static void kw_put(struct imap_index *x, size_t i, uint32_t id)
{
	if (!x->kw) {
		if (!id)
			return;
		x->kw_size = 2;
		x->kw = xcalloc(x->cap, x->kw_size);
	}
	if (id > UINT16_MAX && x->kw_size == 2) {
		uint32_t *wide = xmalloc(x->cap * sizeof *wide);
		for (size_t k = 0; k < x->n; k++)
			wide[k] = ((const uint16_t *)x->kw)[k];
		free(x->kw);
		x->kw = wide;
		x->kw_size = 4;
	}
	if (x->kw_size == 2)
		((uint16_t *)x->kw)[i] = (uint16_t)id;
	else
		((uint32_t *)x->kw)[i] = id;
}

/* ---- the index ----------------------------------------------------------------------- */

void imap_index_free(struct imap_index *x)
{
	for (size_t i = 0; i < x->nsets; i++) {
		for (char **p = x->sets[i]; *p; p++)
			free(*p);
		free(x->sets[i]);
	}
	free(x->sets);
	free(x->hash);
	free(x->uids);
	free(x->flags);
	free(x->kw);
	memset(x, 0, sizeof *x);
}

void imap_index_reserve(struct imap_index *x, size_t n)
{
	if (n <= x->cap)
		return;
	x->cap = n;
	x->uids = xrealloc(x->uids, n * sizeof *x->uids);
	x->flags = xrealloc(x->flags, n);
	if (x->kw)
		x->kw = xrealloc(x->kw, n * x->kw_size);
}

size_t imap_index_push(struct imap_index *x, uint32_t uid, uint8_t flags, char **keywords)
{
	/* A quarter more, not double: a session on a large mailbox that gets
	   one new message should not hold room for thousands. */
	if (x->n == x->cap)
		imap_index_reserve(x, x->cap + x->cap / 4 + 16);
	size_t i = x->n++;
	x->uids[i] = uid;
	x->flags[i] = flags;
	kw_put(x, i, set_intern(x, keywords));
	return i;
}

void imap_index_remove(struct imap_index *x, const size_t *del, size_t n)
{
	if (!n)
		return;
	size_t to = del[0], d = 0;
	for (size_t from = del[0]; from < x->n; from++) {
		if (d < n && del[d] == from) {
			d++;
			continue;
		}
		x->uids[to] = x->uids[from];
		x->flags[to] = x->flags[from];
		if (x->kw)
			kw_put(x, to, kw_get(x, from));
		to++;
	}
	x->n = to;
}

size_t imap_index_lower_bound(const struct imap_index *x, uint32_t uid)
{
	size_t lo = 0, hi = x->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (x->uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

long imap_index_find(const struct imap_index *x, uint32_t uid)
{
	size_t i = imap_index_lower_bound(x, uid);
	return i < x->n && x->uids[i] == uid ? (long)i : -1;
}

char **imap_index_keywords(const struct imap_index *x, size_t i)
{
	uint32_t id = kw_get(x, i);
	return id ? x->sets[id - 1] : NULL;
}

void imap_index_set_keywords(struct imap_index *x, size_t i, char **keywords)
{
	kw_put(x, i, set_intern(x, keywords));
}

size_t imap_index_memory(const struct imap_index *x)
{
	size_t bytes = x->cap * (sizeof *x->uids + 1) + (x->kw ? x->cap * x->kw_size : 0) +
	               x->sets_cap * sizeof *x->sets + x->hash_cap * sizeof *x->hash;
	for (size_t i = 0; i < x->nsets; i++) {
		size_t k = 0;
		for (; x->sets[i][k]; k++)
			bytes += strlen(x->sets[i][k]) + 1;
		bytes += (k + 1) * sizeof *x->sets[i];
	}
	return bytes;
}

/* ---- per-command metadata ------------------------------------------------------------ */

void imap_meta_push(struct imap_meta *m, const struct imap_meta_msg *msg)
{
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 64;
		m->v = xrealloc(m->v, m->cap * sizeof *m->v);
	}
	m->v[m->n++] = *msg;
}

const struct imap_meta_msg *imap_meta_find(const struct imap_meta *m, uint32_t uid)
{
	if (!m)
		return NULL;
	size_t lo = 0, hi = m->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->v[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < m->n && m->v[lo].uid == uid ? &m->v[lo] : NULL;
}

void imap_meta_free(struct imap_meta *m)
{
	free(m->v);
	memset(m, 0, sizeof *m);
}
