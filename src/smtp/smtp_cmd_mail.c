/*
 * smtp_cmd_mail — MAIL and RCPT: the envelope of a transaction, its ESMTP
 * parameters (SIZE, BODY, SMTPUTF8, RFC 3461 DSN, AUTH), and the recipient
 * policy: local recipients through the store's resolver, foreign ones only
 * for an authenticated submission session (no open relay).
 */
#include "smtp/smtp.h"
#include "smtp/smtp_internal.h"

#include "store/store.h"

#include <stdlib.h>
#include <string.h>

static bool submission(const struct smtp_session *s)
{
	return s->svc->mode != SMTP_MODE_MX;
}

static void log_event(struct smtp_session *s, const char *event, const char *addr)
{
	struct buf v = BUF_INIT;
	log_value(&v, addr, strlen(addr));
	log_info("smtp id=%s peer=%s event=%s trans=%s addr=%s", conn_id(s->conn),
		 conn_peer(s->conn), event, s->trans_id, buf_cstr(&v));
	buf_free(&v);
}

/* ---- MAIL ------------------------------------------------------------------------ */

int smtp_check_mail(struct smtp_session *s)
{
	if (s->state == SMTP_STATE_INIT) {
		smtp_reply_error(s, "503 5.5.1 Send HELO/EHLO first");
		return -1;
	}
	if (s->has_mail) {
		smtp_reply_error(s, "503 5.5.1 Nested MAIL command");
		return -1;
	}
	if (submission(s) && !s->auth_user) {
		smtp_reply_error(s, "530 5.7.0 Authentication required");
		return -1;
	}
	if (s->messages >= SMTP_MAX_MESSAGES) {
		smtp_reply(s, "421 4.7.0 %s Too many messages in one session",
			   s->ctx->cfg->hostname);
		smtp_close(s);
		return -1;
	}
	return 0;
}

/* Parses MAIL parameters into the session; replies and returns -1 on error. */
static int mail_params(struct smtp_session *s)
{
	const struct smtp_cmd *cmd = &s->cmd;
	for (size_t i = 0; i < cmd->nparams; i++) {
		const struct smtp_param *p = &cmd->params[i];
		for (size_t j = 0; j < i; j++)
			if (str_eq_nocase(cmd->params[j].keyword, p->keyword)) {
				smtp_reply_error(s, "501 5.5.4 Duplicate parameter %.*s",
						 (int)p->keyword.len, p->keyword.p);
				return -1;
			}
		if (str_eq_cstr_nocase(p->keyword, "SIZE")) {
			uint64_t v;
			if (!p->value.p || !str_to_u64(p->value, &v)) {
				smtp_reply_error(s, "501 5.5.4 Bad SIZE value");
				return -1;
			}
			if (v > s->ctx->cfg->max_message_size) {
				smtp_reply_error(s, "552 5.3.4 Message size exceeds fixed maximum "
						    "message size");
				return -1;
			}
			s->declared_size = v;
		} else if (str_eq_cstr_nocase(p->keyword, "BODY")) {
			if (p->value.p && str_eq_cstr_nocase(p->value, "8BITMIME")) {
				s->body_8bit = true;
			} else if (!p->value.p || !str_eq_cstr_nocase(p->value, "7BIT")) {
				smtp_reply_error(s, "555 5.5.4 Unsupported BODY type");
				return -1;
			}
		} else if (str_eq_cstr_nocase(p->keyword, "SMTPUTF8")) {
			if (p->value.p) {
				smtp_reply_error(s, "501 5.5.4 SMTPUTF8 takes no value");
				return -1;
			}
			s->smtputf8 = true;
		} else if (str_eq_cstr_nocase(p->keyword, "RET")) {
			if (!p->value.p || !(str_eq_cstr_nocase(p->value, "FULL") ||
					     str_eq_cstr_nocase(p->value, "HDRS"))) {
				smtp_reply_error(s, "501 5.5.4 RET must be FULL or HDRS");
				return -1;
			}
			s->dsn_ret = str_dup(p->value);
			for (char *q = s->dsn_ret; *q; q++)
				*q = (char)(*q >= 'a' && *q <= 'z' ? *q - 32 : *q);
		} else if (str_eq_cstr_nocase(p->keyword, "ENVID")) {
			struct buf d = BUF_INIT;
			if (!p->value.p || p->value.len > 100 || smtp_xtext_decode(p->value, &d) < 0) {
				buf_free(&d);
				smtp_reply_error(s, "501 5.5.4 Bad ENVID value");
				return -1;
			}
			s->dsn_envid = buf_steal(&d);
		} else if (str_eq_cstr_nocase(p->keyword, "AUTH")) {
			/* RFC 4954 5: the original submitter; accepted and not trusted. */
		} else {
			smtp_reply_error(s, "555 5.5.4 Unsupported parameter %.*s",
					 (int)p->keyword.len, p->keyword.p);
			return -1;
		}
	}
	return 0;
}

/* Submission: the sender must be the account's own address or an alias of it. */
static int sender_owned(struct smtp_session *s)
{
	struct buf norm = BUF_INIT, err = BUF_INIT;
	int r = 0;
	if (store_address_normalize(buf_cstr(&s->cmd.path.address), false, &norm, &err) == 0 &&
	    strcmp(buf_cstr(&norm), s->auth_user) == 0) {
		r = 1;
	} else {
		struct store_rcpt rc;
		enum store_lookup l = store_rcpt_resolve(s->ctx->store, buf_cstr(&s->cmd.path.address),
							 &rc, &err);
		if (l == STORE_ERROR)
			r = -1;
		for (size_t i = 0; l == STORE_FOUND && i < rc.naccounts; i++)
			if (rc.account_ids[i] == s->auth_account_id)
				r = 1;
		if (l == STORE_FOUND)
			store_rcpt_clear(&rc);
	}
	buf_free(&norm);
	buf_free(&err);
	return r;
}

void smtp_proceed_mail(struct smtp_session *s)
{
	const struct smtp_path *path = &s->cmd.path;
	s->smtputf8 = false;
	s->body_8bit = false;
	s->declared_size = 0;
	xfree(&s->dsn_ret);
	xfree(&s->dsn_envid);
	if (mail_params(s) < 0)
		return;
	if (path->utf8 && !s->smtputf8) {
		smtp_reply_error(s, "553 5.6.7 Non-ASCII address needs SMTPUTF8");
		return;
	}
	if (submission(s)) {
		if (path->null) {
			smtp_reply_error(s, "553 5.7.1 Submission needs a sender address");
			return;
		}
		int owned = sender_owned(s);
		if (owned < 0) {
			smtp_reply(s, "451 4.3.0 Temporary lookup failure");
			return;
		}
		if (!owned) {
			log_event(s, "sender-not-owned", buf_cstr(&path->address));
			smtp_reply_error(s, "553 5.7.1 Sender address not owned by user %s",
					 s->auth_user);
			return;
		}
	}
	buf_reset(&s->mail_from);
	if (!path->null)
		buf_append(&s->mail_from, path->address.data, path->address.len);
	s->mail_null = path->null;
	s->has_mail = true;
	log_event(s, "mail", buf_cstr(&s->mail_from));
	smtp_reply(s, "250 2.1.0 Ok");
}

/* ---- RCPT --------------------------------------------------------------------------- */

int smtp_check_rcpt(struct smtp_session *s)
{
	if (!s->has_mail) {
		smtp_reply_error(s, "503 5.5.1 Need MAIL before RCPT");
		return -1;
	}
	if (s->bdat_started) {
		smtp_reply_error(s, "503 5.5.1 RCPT not allowed during BDAT");
		return -1;
	}
	if (s->nrcpts >= s->ctx->cfg->max_recipients) {
		smtp_reply(s, "452 4.5.3 Too many recipients");
		return -1;
	}
	return 0;
}

/* RFC 3461 4.1: "NEVER" alone, or a list of SUCCESS, FAILURE and DELAY. */
static bool notify_ok(const char *v)
{
	if (strcmp(v, "NEVER") == 0)
		return true;
	for (;;) {
		size_t n = strcspn(v, ",");
		if (!((n == 7 && strncmp(v, "SUCCESS", 7) == 0) ||
		      (n == 7 && strncmp(v, "FAILURE", 7) == 0) ||
		      (n == 5 && strncmp(v, "DELAY", 5) == 0)))
			return false;
		if (v[n] == '\0')
			return true;
		v += n + 1;
	}
}

static int rcpt_params(struct smtp_session *s, char **notify_r, char **orcpt_r)
{
	const struct smtp_cmd *cmd = &s->cmd;
	for (size_t i = 0; i < cmd->nparams; i++) {
		const struct smtp_param *p = &cmd->params[i];
		if (str_eq_cstr_nocase(p->keyword, "NOTIFY") && p->value.p && !*notify_r) {
			char *v = str_dup(p->value);
			for (char *q = v; *q; q++)
				*q = (char)(*q >= 'a' && *q <= 'z' ? *q - 32 : *q);
			if (!notify_ok(v)) {
				free(v);
				smtp_reply_error(s, "501 5.5.4 Bad NOTIFY value");
				return -1;
			}
			*notify_r = v;
		} else if (str_eq_cstr_nocase(p->keyword, "ORCPT") && p->value.p && !*orcpt_r) {
			/* addr-type ";" xtext */
			const char *semi = memchr(p->value.p, ';', p->value.len);
			struct buf d = BUF_INIT;
			if (!semi || semi == p->value.p ||
			    smtp_xtext_decode((struct str){semi + 1, (size_t)(p->value.p +
									       p->value.len -
									       semi - 1)},
					      &d) < 0 ||
			    d.len == 0 || d.len > 500) {
				buf_free(&d);
				smtp_reply_error(s, "501 5.5.4 Bad ORCPT value");
				return -1;
			}
			*orcpt_r = xasprintf("%.*s;%s", (int)(semi - p->value.p), p->value.p,
					     buf_cstr(&d));
			buf_free(&d);
		} else {
			smtp_reply_error(s, "555 5.5.4 Unsupported parameter %.*s",
					 (int)p->keyword.len, p->keyword.p);
			return -1;
		}
	}
	return 0;
}

static void add_rcpt(struct smtp_session *s, const char *address, int64_t account_id,
		     int64_t mailbox_id, const char *notify, const char *orcpt)
{
	if (s->nrcpts == s->rcpts_cap) {
		s->rcpts_cap = s->rcpts_cap ? s->rcpts_cap * 2 : 8;
		s->rcpts = xrealloc(s->rcpts, s->rcpts_cap * sizeof *s->rcpts);
	}
	struct smtp_rcpt *r = &s->rcpts[s->nrcpts++];
	r->address = xstrdup(address);
	r->account_id = account_id;
	r->mailbox_id = mailbox_id;
	r->dsn_notify = notify ? xstrdup(notify) : NULL;
	r->dsn_orcpt = orcpt ? xstrdup(orcpt) : NULL;
}

/* The mailbox a local account receives into: the sub-address tag's folder if it
   exists, else INBOX. 0 on error. */
struct tag_match {
	const char *tag;
	int64_t id;
};

static void match_tag(const struct store_mailbox *m, void *arg)
{
	struct tag_match *t = arg;
	if (!t->id && strcasecmp(m->name, t->tag) == 0)
		t->id = m->id;
}

/* The address was case-folded, so the tag matches a folder name regardless of
   case ("alice+Archive@" and "alice+archive@" both reach "Archive"). */
static int64_t target_mailbox(struct smtp_session *s, int64_t account_id, const char *tag,
			      struct buf *err)
{
	struct store_mailbox m = {0};
	if (tag && *tag) {
		struct tag_match t = {tag, 0};
		if (store_mailbox_list(s->ctx->store, account_id, match_tag, &t, err) < 0)
			return 0;
		if (t.id)
			return t.id;
	}
	if (store_mailbox_get(s->ctx->store, account_id, "INBOX", &m, err) != STORE_FOUND)
		return 0;
	int64_t id = m.id;
	store_mailbox_clear(&m);
	return id;
}

void smtp_proceed_rcpt(struct smtp_session *s)
{
	const struct smtp_path *path = &s->cmd.path;
	char *notify = NULL, *orcpt = NULL;
	struct buf err = BUF_INIT;
	struct buf addr = BUF_INIT;
	s->rcpt_attempts++;
	if (rcpt_params(s, &notify, &orcpt) < 0)
		goto out;
	if (path->utf8 && !s->smtputf8) {
		smtp_reply_error(s, "553 5.6.7 Non-ASCII address needs SMTPUTF8");
		goto out;
	}
	if (path->postmaster)
		buf_printf(&addr, "postmaster@%s", s->ctx->cfg->hostname);
	else
		buf_append(&addr, path->address.data, path->address.len);

	/* Local domain? Address literals and names outside our domains are not. */
	enum store_lookup dom = STORE_NOT_FOUND;
	if (!path->domain_literal)
		dom = store_domain_exists(s->ctx->store,
					  path->postmaster ? s->ctx->cfg->hostname
							   : buf_cstr(&path->domain),
					  &err);
	if (path->postmaster && dom == STORE_NOT_FOUND) {
		buf_reset(&addr);
		buf_puts(&addr, "postmaster@localhost");
		dom = store_domain_exists(s->ctx->store, "localhost", &err);
	}
	if (dom == STORE_ERROR) {
		smtp_reply(s, "451 4.3.0 Temporary lookup failure");
		goto out;
	}
	if (dom == STORE_NOT_FOUND) {
		if (!s->auth_user) {
			log_event(s, "relay-denied", buf_cstr(&addr));
			smtp_reply_error(s, "554 5.7.1 <%s>: Relay access denied", buf_cstr(&addr));
			goto out;
		}
		add_rcpt(s, buf_cstr(&addr), 0, 0, notify, orcpt);
		log_event(s, "rcpt-remote", buf_cstr(&addr));
		smtp_reply(s, "250 2.1.5 Ok");
		goto out;
	}
	struct store_rcpt rc;
	enum store_lookup l = path->quoted ? STORE_NOT_FOUND
					   : store_rcpt_resolve(s->ctx->store, buf_cstr(&addr),
								&rc, &err);
	if (l == STORE_ERROR) {
		smtp_reply(s, "451 4.3.0 Temporary lookup failure");
		goto out;
	}
	if (l == STORE_NOT_FOUND) {
		log_event(s, "rcpt-unknown", buf_cstr(&addr));
		smtp_reply_error(s, "550 5.1.1 <%s>: Recipient address rejected: User unknown",
				 buf_cstr(&addr));
		goto out;
	}
	bool failed = false;
	for (size_t i = 0; i < rc.naccounts && !failed; i++) {
		int64_t mb = target_mailbox(s, rc.account_ids[i], rc.tag, &err);
		if (!mb)
			failed = true;
		else
			add_rcpt(s, buf_cstr(&addr), rc.account_ids[i], mb, notify, orcpt);
	}
	/* Aliases may forward outside: that is our own configuration, not a relay. */
	for (size_t i = 0; i < rc.nforeign && !failed; i++)
		add_rcpt(s, rc.foreign[i], 0, 0, notify, orcpt);
	store_rcpt_clear(&rc);
	if (failed) {
		smtp_reply(s, "451 4.3.0 Temporary lookup failure");
		goto out;
	}
	log_event(s, "rcpt", buf_cstr(&addr));
	smtp_reply(s, "250 2.1.5 Ok");
out:
	free(notify);
	free(orcpt);
	buf_free(&addr);
	buf_free(&err);
}
