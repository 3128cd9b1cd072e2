/*
 * dkim_submit — signing a message as it is submitted: the signing domain, its
 * keys, and the signature on a worker thread (dkim.h, "signing what is
 * submitted").
 *
 * The keys are read on the loop (store reads belong to the loop's
 * connection); the worker gets copies, so it touches nothing the loop owns.
 */
#include "dkim/dkim.h"

#include "core/work.h"
#include "mime/mime.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct dkim_job {
	const char *msg;
	size_t len;
	char *domain;
	struct dkim_key keys[DKIM_MAX_KEYS];
	size_t nkeys;
	int64_t now;
	int result;
	struct buf fields;
	struct buf err;
	dkim_done_fn *done;
	void *arg;
};

static void job_free(struct dkim_job *j)
{
	for (size_t i = 0; i < j->nkeys; i++) {
		free((void *)j->keys[i].selector);
		char *pem = (char *)j->keys[i].pem;
		memset(pem, 0, strlen(pem));
		free(pem);
	}
	free(j->domain);
	buf_free(&j->fields);
	buf_free(&j->err);
	free(j);
}

/* Takes the newest key of each algorithm (the list comes newest first). */
static void take_key(const struct store_dkim_key *k, void *arg)
{
	struct dkim_job *j = arg;
	enum dkim_alg alg;
	if (dkim_alg_parse(k->algorithm, &alg) < 0 || j->nkeys == DKIM_MAX_KEYS)
		return;
	for (size_t i = 0; i < j->nkeys; i++)
		if (j->keys[i].alg == alg)
			return;
	if (!j->domain)
		j->domain = xstrdup(k->domain);
	j->keys[j->nkeys++] = (struct dkim_key){alg, xstrdup(k->selector), xstrdup(k->private_key)};
}

/* The domain of the first address of the From field, or NULL. */
static char *from_domain(const char *msg, size_t len)
{
	size_t hlen = mime_header_len(msg, len);
	struct buf v = BUF_INIT;
	char *domain = NULL;
	if (mime_header_get(msg, hlen, "From", &v)) {
		struct mime_address *list = NULL;
		size_t n = 0;
		mime_address_parse(v.data ? v.data : "", v.len, &list, &n);
		for (size_t i = 0; i < n && !domain; i++)
			if (list[i].host && list[i].mailbox && !list[i].invalid)
				domain = xstrdup(list[i].host);
		mime_address_free(&list, n);
	}
	buf_free(&v);
	return domain;
}

static void sign_work(void *arg)
{
	struct dkim_job *j = arg;
	j->result = dkim_sign(j->msg, j->len, j->domain, j->keys, j->nkeys, j->now, &j->fields,
	                      &j->err);
}

static void sign_done(void *arg)
{
	struct dkim_job *j = arg;
	if (j->result == 0)
		log_debug("dkim event=signed domain=%s signatures=%zu", j->domain, j->nkeys);
	j->done(j->result, &j->fields, buf_cstr(&j->err), j->arg);
	job_free(j);
}

int dkim_submit(struct store *st, struct work_pool *pool, const char *msg, size_t len,
                const char *env_from, dkim_done_fn *done, void *arg, struct buf *err)
{
	struct dkim_job *j = xcalloc(1, sizeof *j);
	char *candidates[2] = {from_domain(msg, len), NULL};
	const char *at = env_from ? strrchr(env_from, '@') : NULL;
	if (at && at[1])
		candidates[1] = xstrdup(at + 1);
	int r = 0;
	for (size_t i = 0; i < 2 && j->nkeys == 0; i++) {
		if (!candidates[i])
			continue;
		if (store_dkim_key_list(st, candidates[i], take_key, j, err) < 0) {
			r = -1;
			break;
		}
	}
	free(candidates[0]);
	free(candidates[1]);
	if (r < 0 || j->nkeys == 0) {
		job_free(j);
		return r;
	}
	j->msg = msg;
	j->len = len;
	j->now = (int64_t)time(NULL);
	j->done = done;
	j->arg = arg;
	work_submit(pool, sign_work, sign_done, j);
	return 1;
}
