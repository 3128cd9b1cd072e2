/*
 * auth_throttle — slows down password guessing without locking anybody out.
 *
 * Failed logins are counted under two keys, "ip:<peer address>" and
 * "acct:<account>" (the account ASCII-lowercased, so that changing the case of a
 * name does not open a fresh counter). Before answering an attempt the caller
 * waits max(delay(ip), delay(account)), where for a key with n recent failures
 *
 *     delay = 0                                        while n <= free
 *           = min(max_delay, 1 s * 2^(n - free - 1))   afterwards
 *
 * A key is forgotten AUTH_THROTTLE_FORGET_MS after its last failure, and a
 * successful login clears both of its keys. Counting per account as well as per
 * address is what stops a guesser that rotates through many addresses.
 *
 * Memory is bounded: at most AUTH_THROTTLE_MAX_KEYS keys are kept in a chained
 * hash table; when it is full the stalest key (least recently failed) is dropped.
 * Keys are kept on a list in the order of their last failure, so finding the
 * stalest one, and purging expired ones, costs O(1) per key. The hash is SipHash
 * with a random per-table key, so a peer that chooses account names cannot pile
 * them into one chain.
 *
 * The module is pure: the caller passes the time (a monotonic clock in ms). With a
 * clock that goes backwards, "stalest" means least recently updated.
 */
#include "auth/auth_internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define THROTTLE_MIN_BUCKETS 256

struct throttle_entry {
	struct throttle_entry *hnext;         /* hash chain */
	struct throttle_entry *older, *newer; /* list by last failure */
	uint64_t hash;
	unsigned failures;
	int64_t last_failure_ms;
	size_t key_len;
	char key[];
};

struct auth_throttle {
	unsigned free_failures;
	int64_t max_delay_ms;
	uint64_t sip_k0, sip_k1;
	struct throttle_entry **buckets;
	size_t nbuckets; /* a power of two */
	size_t count;
	struct throttle_entry *oldest, *newest;
	uint64_t failures_total; /* since the table was made (for /metrics) */
};

/* ---- SipHash-2-4 (Aumasson and Bernstein, 2012) -------------------------------- */

static uint64_t rotl64(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static uint64_t load_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

#define SIPROUND(v0, v1, v2, v3)                                                                   \
	do {                                                                                       \
		v0 += v1;                                                                          \
		v1 = rotl64(v1, 13);                                                               \
		v1 ^= v0;                                                                          \
		v0 = rotl64(v0, 32);                                                               \
		v2 += v3;                                                                          \
		v3 = rotl64(v3, 16);                                                               \
		v3 ^= v2;                                                                          \
		v0 += v3;                                                                          \
		v3 = rotl64(v3, 21);                                                               \
		v3 ^= v0;                                                                          \
		v2 += v1;                                                                          \
		v1 = rotl64(v1, 17);                                                               \
		v1 ^= v2;                                                                          \
		v2 = rotl64(v2, 32);                                                               \
	} while (0)

uint64_t auth_siphash24(uint64_t k0, uint64_t k1, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t v0 = k0 ^ UINT64_C(0x736f6d6570736575);
	uint64_t v1 = k1 ^ UINT64_C(0x646f72616e646f6d);
	uint64_t v2 = k0 ^ UINT64_C(0x6c7967656e657261);
	uint64_t v3 = k1 ^ UINT64_C(0x7465646279746573);
	size_t full = len - len % 8;

	for (size_t i = 0; i < full; i += 8) {
		uint64_t m = load_le64(p + i);
		v3 ^= m;
		SIPROUND(v0, v1, v2, v3);
		SIPROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	uint64_t last = (uint64_t)(len & 0xff) << 56;
	for (size_t i = 0; i < len % 8; i++)
		last |= (uint64_t)p[full + i] << (8 * i);
	v3 ^= last;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	v0 ^= last;
	v2 ^= 0xff;
	for (int i = 0; i < 4; i++)
		SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- the table ------------------------------------------------------------------ */

struct auth_throttle *auth_throttle_new(unsigned free_failures, unsigned max_delay_s)
{
	struct auth_throttle *t = xcalloc(1, sizeof *t);
	t->free_failures = free_failures;
	t->max_delay_ms = (int64_t)max_delay_s * 1000;
	t->sip_k0 = random_u64();
	t->sip_k1 = random_u64();
	t->nbuckets = THROTTLE_MIN_BUCKETS;
	t->buckets = xcalloc(t->nbuckets, sizeof *t->buckets);
	return t;
}

void auth_throttle_free(struct auth_throttle **tp)
{
	struct auth_throttle *t = *tp;
	if (t == NULL)
		return;
	struct throttle_entry *e = t->oldest;
	while (e != NULL) {
		struct throttle_entry *next = e->newer;
		free(e);
		e = next;
	}
	free(t->buckets);
	free(t);
	*tp = NULL;
}

size_t auth_throttle_count(const struct auth_throttle *t)
{
	return t->count;
}

static struct throttle_entry **bucket_of(struct auth_throttle *t, uint64_t hash)
{
	return &t->buckets[hash & (t->nbuckets - 1)];
}

static struct throttle_entry *lookup(struct auth_throttle *t, const struct buf *key, uint64_t hash)
{
	for (struct throttle_entry *e = *bucket_of(t, hash); e != NULL; e = e->hnext)
		if (e->hash == hash && e->key_len == key->len &&
		    memcmp(e->key, key->data, key->len) == 0)
			return e;
	return NULL;
}

static void list_unlink(struct auth_throttle *t, struct throttle_entry *e)
{
	if (e->older)
		e->older->newer = e->newer;
	else
		t->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		t->newest = e->older;
	e->older = e->newer = NULL;
}

static void list_append_newest(struct auth_throttle *t, struct throttle_entry *e)
{
	e->older = t->newest;
	e->newer = NULL;
	if (t->newest)
		t->newest->newer = e;
	else
		t->oldest = e;
	t->newest = e;
}

static void remove_entry(struct auth_throttle *t, struct throttle_entry *e)
{
	struct throttle_entry **pp = bucket_of(t, e->hash);
	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	list_unlink(t, e);
	free(e);
	t->count--;
}

/* Doubles the bucket array while the table is more than one entry per bucket. */
static void maybe_grow(struct auth_throttle *t)
{
	if (t->count < t->nbuckets || t->nbuckets >= AUTH_THROTTLE_MAX_KEYS)
		return;
	size_t n = t->nbuckets * 2;
	struct throttle_entry **b = xcalloc(n, sizeof *b);
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct throttle_entry *e = t->buckets[i];
		while (e != NULL) {
			struct throttle_entry *next = e->hnext;
			struct throttle_entry **slot = &b[e->hash & (n - 1)];
			e->hnext = *slot;
			*slot = e;
			e = next;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
}

static bool expired(const struct throttle_entry *e, int64_t now_ms)
{
	return now_ms - e->last_failure_ms >= AUTH_THROTTLE_FORGET_MS;
}

/* Drops keys whose last failure is older than the forget period. */
static void purge_expired(struct auth_throttle *t, int64_t now_ms)
{
	while (t->oldest != NULL && expired(t->oldest, now_ms))
		remove_entry(t, t->oldest);
}

/* "ip:<ip>" or "acct:<lowercased account>"; false when there is no such key. */
static bool make_key(struct buf *key, const char *prefix, const char *value, bool lower)
{
	buf_reset(key);
	if (value == NULL)
		return false;
	buf_puts(key, prefix);
	size_t start = key->len;
	buf_puts(key, value);
	if (lower)
		for (size_t i = start; i < key->len; i++)
			if (key->data[i] >= 'A' && key->data[i] <= 'Z')
				key->data[i] = (char)(key->data[i] - 'A' + 'a');
	return true;
}

static uint64_t key_hash(const struct auth_throttle *t, const struct buf *key)
{
	return auth_siphash24(t->sip_k0, t->sip_k1, key->data, key->len);
}

static int64_t entry_delay(const struct auth_throttle *t, const struct throttle_entry *e,
                           int64_t now_ms)
{
	if (e == NULL || expired(e, now_ms) || e->failures <= t->free_failures)
		return 0;
	unsigned doublings = e->failures - t->free_failures - 1;
	/* 1000 ms << 40 is some 35 years: beyond any sane cap, and far from overflow. */
	if (doublings >= 40)
		return t->max_delay_ms;
	int64_t d = INT64_C(1000) << doublings;
	return d < t->max_delay_ms ? d : t->max_delay_ms;
}

static void count_failure(struct auth_throttle *t, const struct buf *key, int64_t now_ms)
{
	uint64_t hash = key_hash(t, key);
	struct throttle_entry *e = lookup(t, key, hash);
	if (e != NULL) {
		if (expired(e, now_ms))
			e->failures = 0;
		list_unlink(t, e);
	} else {
		if (t->count >= AUTH_THROTTLE_MAX_KEYS)
			remove_entry(t, t->oldest);
		e = xcalloc(1, sizeof *e + key->len);
		memcpy(e->key, key->data, key->len);
		e->key_len = key->len;
		e->hash = hash;
		struct throttle_entry **slot = bucket_of(t, hash);
		e->hnext = *slot;
		*slot = e;
		t->count++;
	}
	if (e->failures < UINT_MAX)
		e->failures++;
	e->last_failure_ms = now_ms;
	list_append_newest(t, e);
	maybe_grow(t);
}

int64_t auth_throttle_delay(struct auth_throttle *t, const char *ip, const char *account,
                            int64_t now_ms)
{
	struct buf key = BUF_INIT;
	int64_t delay = 0;
	purge_expired(t, now_ms);
	if (make_key(&key, "ip:", ip, false)) {
		int64_t d = entry_delay(t, lookup(t, &key, key_hash(t, &key)), now_ms);
		delay = d > delay ? d : delay;
	}
	if (make_key(&key, "acct:", account, true)) {
		int64_t d = entry_delay(t, lookup(t, &key, key_hash(t, &key)), now_ms);
		delay = d > delay ? d : delay;
	}
	buf_free(&key);
	return delay;
}

void auth_throttle_failure(struct auth_throttle *t, const char *ip, const char *account,
                           int64_t now_ms)
{
	struct buf key = BUF_INIT;
	t->failures_total++;
	purge_expired(t, now_ms);
	if (make_key(&key, "ip:", ip, false))
		count_failure(t, &key, now_ms);
	if (make_key(&key, "acct:", account, true))
		count_failure(t, &key, now_ms);
	buf_free(&key);
}

void auth_throttle_success(struct auth_throttle *t, const char *ip, const char *account,
                           int64_t now_ms)
{
	struct buf key = BUF_INIT;
	struct throttle_entry *e;
	purge_expired(t, now_ms);
	if (make_key(&key, "ip:", ip, false) && (e = lookup(t, &key, key_hash(t, &key))) != NULL)
		remove_entry(t, e);
	if (make_key(&key, "acct:", account, true) &&
	    (e = lookup(t, &key, key_hash(t, &key))) != NULL)
		remove_entry(t, e);
	buf_free(&key);
}

uint64_t auth_throttle_failures_total(const struct auth_throttle *t)
{
	return t->failures_total;
}
