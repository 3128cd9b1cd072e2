/*
 * queue_dsn — delivery status notifications (RFC 3464) and the message as it
 * leaves. Pure: bytes in, bytes out.
 *
 * A report is multipart/report; report-type=delivery-status with three parts:
 * a few sentences for a person, the machine-readable message/delivery-status
 * (one block per recipient: Final-Recipient, Action, Status, Remote-MTA and the
 * remote server's own words in Diagnostic-Code), and the original message's
 * header (text/rfc822-headers) or, when the sender asked with RET=FULL, the
 * whole message (message/rfc822). When an address is not ASCII (SMTPUTF8) the
 * RFC 6533 types are used (message/global-delivery-status, utf-8 addresses).
 * It comes from MAILER-DAEMON@hostname with the null envelope sender, and says
 * Auto-Submitted: auto-replied (RFC 3834) so that nobody answers it.
 */
#include "queue/queue_internal.h"

#include "mime/mime.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define FOLD_AT 76       /* fold long header and text lines near this column */
#define FOLD_LONGEST 900 /* a longer word is cut: a line stays under 998 bytes */

size_t queue_message_start(const char *msg, size_t len)
{
	static const char name[] = "return-path:";
	size_t n = sizeof name - 1;
	if (len < n || !str_has_prefix_nocase((struct str){msg, len}, name))
		return 0;
	size_t i = n;
	for (;;) {
		const char *nl = memchr(msg + i, '\n', len - i);
		if (!nl)
			return 0; /* a header of one field and no body: send it all */
		i = (size_t)(nl - msg) + 1;
		if (i >= len || (msg[i] != ' ' && msg[i] != '\t'))
			return i;
	}
}

bool queue_dsn_wanted(const char *notify, const char *kind)
{
	if (!notify || !*notify)
		return strcmp(kind, "FAILURE") == 0 || strcmp(kind, "DELAY") == 0;
	const char *p = notify;
	size_t klen = strlen(kind);
	while (*p) {
		size_t n = strcspn(p, ",");
		if (n == klen && str_has_prefix_nocase((struct str){p, n}, kind))
			return true;
		p += n;
		if (*p == ',')
			p++;
	}
	return false;
}

static void rfc5322_date(struct buf *out, int64_t t)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	buf_printf(out, "%s, %d %s %d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
	           months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static bool is_ascii(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

/*
 * Appends "Name: value" as a header field, folded before a word that would go
 * past FOLD_AT. Control characters in value become spaces: it may hold a
 * remote server's words.
 */
static void put_field(struct buf *out, const char *name, const char *value)
{
	buf_printf(out, "%s:", name);
	size_t col = strlen(name) + 1;
	const char *p = value;
	while (*p) {
		while (*p && ((unsigned char)*p <= 0x20 || *p == 0x7f))
			p++;
		if (!*p)
			break;
		size_t n = 0;
		while (p[n] && (unsigned char)p[n] > 0x20 && p[n] != 0x7f && n < FOLD_LONGEST)
			n++;
		if (col + 1 + n > FOLD_AT && col > strlen(name) + 1) {
			buf_puts(out, "\r\n");
			col = 0;
		}
		buf_putc(out, ' ');
		buf_append(out, p, n);
		col += 1 + n;
		p += n;
	}
	buf_puts(out, "\r\n");
}

/* The same for running text: words wrapped at FOLD_AT, lines ended by CRLF. */
static void put_text(struct buf *out, const char *text)
{
	size_t col = 0;
	const char *p = text;
	while (*p) {
		if (*p == '\n') {
			buf_puts(out, "\r\n");
			col = 0;
			p++;
			continue;
		}
		if (*p == ' ') {
			p++;
			continue;
		}
		size_t n = strcspn(p, " \n");
		if (col > 0 && col + 1 + n > FOLD_AT) {
			buf_puts(out, "\r\n    ");
			col = 4;
		} else if (col > 0) {
			buf_putc(out, ' ');
			col++;
		}
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)p[i];
			buf_putc(out, c < 0x20 || c == 0x7f ? '?' : (char)c);
		}
		col += n;
		p += n;
	}
	if (col > 0)
		buf_puts(out, "\r\n");
}

struct summary {
	size_t failed, delayed, delivered;
};

static struct summary summarize(const struct queue_dsn *d)
{
	struct summary s = {0, 0, 0};
	for (size_t i = 0; i < d->nrcpts; i++) {
		const char *a = d->rcpts[i].action;
		if (strcmp(a, "failed") == 0)
			s.failed++;
		else if (strcmp(a, "delayed") == 0)
			s.delayed++;
		else
			s.delivered++;
	}
	return s;
}

static void human_part(const struct queue_dsn *d, struct summary s, struct buf *out)
{
	struct buf t = BUF_INIT;
	buf_printf(&t, "This is the mail system at %s.\n\n", d->hostname);
	if (s.failed)
		buf_puts(&t, "Your message could not be delivered to the recipients below. "
		             "The reasons are given after each address; the report that "
		             "follows has the details, and your message is attached.\n");
	if (s.failed && s.delayed)
		buf_puts(&t, "\nDelivery to those marked delayed is still being tried.\n");
	else if (s.delayed)
		buf_puts(&t, "Your message has not been delivered yet to the recipients "
		             "below. Nothing needs to be done: delivery will be tried again "
		             "until it succeeds or the message expires.\n");
	else
		buf_puts(&t, "Your message was delivered to the recipients below, as you "
		             "asked to be told.\n");
	for (size_t i = 0; i < d->nrcpts; i++) {
		const struct queue_dsn_rcpt *r = &d->rcpts[i];
		buf_printf(&t, "\n<%s>: %s", r->rcpt, r->action);
		if (r->remote_mta && r->diagnostic)
			buf_printf(&t, ". %s said: %s", r->remote_mta, r->diagnostic);
		else if (r->diagnostic)
			buf_printf(&t, ": %s", r->diagnostic);
		else if (r->reason)
			buf_printf(&t, ": %s", r->reason);
		buf_puts(&t, "\n");
	}
	put_text(out, buf_cstr(&t));
	buf_free(&t);
}

static void status_part(const struct queue_dsn *d, bool utf8, struct buf *out)
{
	struct buf v = BUF_INIT;
	buf_printf(&v, "dns; %s", d->hostname);
	put_field(out, "Reporting-MTA", buf_cstr(&v));
	if (d->envid && *d->envid)
		put_field(out, "Original-Envelope-Id", d->envid);
	buf_reset(&v);
	rfc5322_date(&v, d->arrival);
	put_field(out, "Arrival-Date", buf_cstr(&v));
	for (size_t i = 0; i < d->nrcpts; i++) {
		const struct queue_dsn_rcpt *r = &d->rcpts[i];
		buf_puts(out, "\r\n");
		buf_reset(&v);
		buf_printf(&v, "%s; %s", utf8 && !is_ascii(r->rcpt) ? "utf-8" : "rfc822", r->rcpt);
		put_field(out, "Final-Recipient", buf_cstr(&v));
		if (r->orcpt && *r->orcpt) {
			/* already "type;addr": keep the type, space after ';' */
			const char *semi = strchr(r->orcpt, ';');
			buf_reset(&v);
			if (semi)
				buf_printf(&v, "%.*s; %s", (int)(semi - r->orcpt), r->orcpt,
				           semi + 1);
			else
				buf_printf(&v, "rfc822; %s", r->orcpt);
			put_field(out, "Original-Recipient", buf_cstr(&v));
		}
		put_field(out, "Action", r->action);
		put_field(out, "Status", r->status);
		if (r->remote_mta) {
			buf_reset(&v);
			buf_printf(&v, "dns; %s", r->remote_mta);
			put_field(out, "Remote-MTA", buf_cstr(&v));
		}
		if (r->diagnostic) {
			buf_reset(&v);
			buf_printf(&v, "smtp; %s", r->diagnostic);
			put_field(out, "Diagnostic-Code", buf_cstr(&v));
		}
		buf_reset(&v);
		rfc5322_date(&v, d->now);
		put_field(out, "Last-Attempt-Date", buf_cstr(&v));
		if (r->retry_until > 0 && strcmp(r->action, "delayed") == 0) {
			buf_reset(&v);
			rfc5322_date(&v, r->retry_until);
			put_field(out, "Will-Retry-Until", buf_cstr(&v));
		}
	}
	buf_free(&v);
}

void queue_dsn_build(const struct queue_dsn *d, struct buf *out)
{
	struct summary s = summarize(d);
	bool utf8 = !is_ascii(d->to);
	for (size_t i = 0; i < d->nrcpts; i++)
		utf8 = utf8 || !is_ascii(d->rcpts[i].rcpt) || !is_ascii(d->rcpts[i].orcpt);

	buf_puts(out, "Return-Path: <>\r\n");
	struct buf v = BUF_INIT;
	rfc5322_date(&v, d->now);
	buf_printf(out, "Date: %s\r\n", buf_cstr(&v));
	buf_printf(out, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n", d->hostname);
	buf_printf(out, "To: <%s>\r\n", d->to);
	buf_printf(out, "Subject: %s\r\n",
	           s.failed    ? "Undelivered Mail Returned to Sender"
	           : s.delayed ? "Delayed Mail (still being retried)"
	                       : "Successful Mail Delivery Report");
	buf_printf(out, "Message-ID: <%s>\r\n", d->message_id);
	buf_puts(out, "Auto-Submitted: auto-replied\r\n");
	buf_puts(out, "MIME-Version: 1.0\r\n");
	buf_printf(out,
	           "Content-Type: multipart/report; report-type=%s;\r\n"
	           "\tboundary=\"%s\"\r\n",
	           utf8 ? "global-delivery-status" : "delivery-status", d->boundary);
	buf_puts(out, "\r\nThis is a MIME-encapsulated delivery status notification.\r\n");

	buf_printf(out, "\r\n--%s\r\n", d->boundary);
	buf_puts(out, "Content-Description: Notification\r\n"
	              "Content-Type: text/plain; charset=utf-8\r\n\r\n");
	human_part(d, s, out);

	buf_printf(out, "\r\n--%s\r\n", d->boundary);
	buf_printf(out, "Content-Description: Delivery report\r\nContent-Type: %s\r\n\r\n",
	           utf8 ? "message/global-delivery-status" : "message/delivery-status");
	status_part(d, utf8, out);

	buf_printf(out, "\r\n--%s\r\n", d->boundary);
	if (d->full) {
		buf_printf(out, "Content-Description: Undelivered Message\r\nContent-Type: %s\r\n",
		           utf8 ? "message/global" : "message/rfc822");
		bool has8 = false;
		for (size_t i = 0; i < d->len && !has8; i++)
			has8 = (unsigned char)d->msg[i] >= 0x80;
		if (has8)
			buf_puts(out, "Content-Transfer-Encoding: 8bit\r\n");
		buf_puts(out, "\r\n");
		buf_append(out, d->msg, d->len);
		if (d->len < 2 || memcmp(d->msg + d->len - 2, "\r\n", 2) != 0)
			buf_puts(out, "\r\n");
	} else {
		size_t hlen = mime_header_len(d->msg, d->len);
		buf_printf(out,
		           "Content-Description: Undelivered Message Headers\r\n"
		           "Content-Type: %s\r\n\r\n",
		           utf8 ? "message/global-headers" : "text/rfc822-headers");
		buf_append(out, d->msg, hlen);
		if (hlen < 2 || memcmp(d->msg + hlen - 2, "\r\n", 2) != 0)
			buf_puts(out, "\r\n");
	}
	buf_printf(out, "\r\n--%s--\r\n", d->boundary);
	buf_free(&v);
}
