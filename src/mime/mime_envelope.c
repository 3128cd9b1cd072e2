/*
 * mime_envelope — the IMAP ENVELOPE structure (RFC 9051 section 7.5.2):
 *
 *   (date subject from sender reply-to to cc bcc in-reply-to message-id)
 *
 * An absent field is NIL, a present empty one "". Address lists are
 * ((name adl mailbox host) ...), a group being (NIL NIL "name" NIL) ...
 * (NIL NIL NIL NIL); an empty list is NIL. Sender and Reply-To default to From.
 */
#include "mime/mime_internal.h"

#include <string.h>

enum env_field {
	ENV_DATE,
	ENV_SUBJECT,
	ENV_FROM,
	ENV_SENDER,
	ENV_REPLY_TO,
	ENV_TO,
	ENV_CC,
	ENV_BCC,
	ENV_IN_REPLY_TO,
	ENV_MESSAGE_ID,
	ENV_COUNT
};

static const char *const env_names[ENV_COUNT] = {"date",        "subject",   "from", "sender",
                                                 "reply-to",    "to",        "cc",   "bcc",
                                                 "in-reply-to", "message-id"};

static bool is_address_field(enum env_field f)
{
	return f >= ENV_FROM && f <= ENV_BCC;
}

struct env {
	bool present[ENV_COUNT];
	struct buf value[ENV_COUNT]; /* first occurrence, unfolded (strings) */
	struct mime_address *addrs[ENV_COUNT];
	size_t naddrs[ENV_COUNT];
};

static void put_addresses(struct buf *out, const struct mime_address *a, size_t n)
{
	if (n == 0) {
		buf_puts(out, "NIL");
		return;
	}
	buf_putc(out, '(');
	for (size_t i = 0; i < n; i++) {
		buf_putc(out, '(');
		if (a[i].name)
			mime_imap_string_for_humans(out, a[i].name, strlen(a[i].name));
		else
			buf_puts(out, "NIL");
		buf_putc(out, ' ');
		mime_imap_nstring(out, a[i].adl);
		buf_putc(out, ' ');
		mime_imap_nstring(out, a[i].mailbox);
		buf_putc(out, ' ');
		mime_imap_nstring(out, a[i].host);
		buf_putc(out, ')');
	}
	buf_putc(out, ')');
}

void mime_envelope(const char *msg, size_t len, struct buf *out)
{
	struct env e;
	struct mime_header_iter it;
	struct mime_header_field f;
	memset(&e, 0, sizeof(e));
	if (msg == NULL)
		len = 0;
	len = mime_header_len(msg ? msg : "", len);
	mime_header_iter_init(&it, msg, len);
	while (mime_header_next(&it, &f)) {
		for (int k = 0; k < ENV_COUNT; k++) {
			if (!str_eq_nocase((struct str){f.name, f.name_len}, str_c(env_names[k])))
				continue;
			if (is_address_field((enum env_field)k)) {
				/* every occurrence, as if one comma-separated list */
				struct buf v = BUF_INIT;
				mime_header_unfold(f.value, f.value_len, &v);
				mime_address_parse(v.data ? v.data : "", v.len, &e.addrs[k],
				                   &e.naddrs[k]);
				buf_free(&v);
			} else if (!e.present[k]) {
				mime_header_unfold(f.value, f.value_len, &e.value[k]);
			}
			e.present[k] = true;
			break;
		}
	}
	buf_putc(out, '(');
	for (int k = 0; k < ENV_COUNT; k++) {
		if (k > 0)
			buf_putc(out, ' ');
		if (is_address_field((enum env_field)k)) {
			int src = k;
			if ((k == ENV_SENDER || k == ENV_REPLY_TO) && e.naddrs[k] == 0)
				src = ENV_FROM;
			put_addresses(out, e.addrs[src], e.naddrs[src]);
		} else if (!e.present[k]) {
			buf_puts(out, "NIL");
		} else if (k == ENV_SUBJECT) {
			mime_imap_string_for_humans(out, e.value[k].data ? e.value[k].data : "",
			                            e.value[k].len);
		} else {
			mime_imap_nstring_nolf(out, e.value[k].data ? e.value[k].data : "",
			                       e.value[k].len, false);
		}
	}
	buf_putc(out, ')');
	for (int k = 0; k < ENV_COUNT; k++) {
		buf_free(&e.value[k]);
		mime_address_free(&e.addrs[k], e.naddrs[k]);
	}
}
