/*
 * test_config — the configuration table: defaults, every value type, every error
 * with its file:line, listener lists, the config_print round trip, the example
 * file and docs/config.md. Run from the repository root (it reads etc/ and docs/).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"

/* ---- helpers ---------------------------------------------------------------- */

/* Parses len bytes over the defaults into *cfg; returns the error text or NULL. */
static char *parse_n(struct config *cfg, const char *text, size_t len)
{
	struct buf err = BUF_INIT;
	config_defaults(cfg);
	if (config_parse_text(cfg, "petrel.conf", text, len, &err) == 0) {
		assert_int_equal(err.len, 0);
		buf_free(&err);
		return NULL;
	}
	assert_true(err.len > 0);
	return buf_steal(&err);
}

static char *parse(struct config *cfg, const char *text)
{
	return parse_n(cfg, text, strlen(text));
}

/* The text must parse; the caller frees cfg. */
static void parse_ok(struct config *cfg, const char *text)
{
	char *err = parse(cfg, text);
	if (err)
		fail_msg("unexpected error for \"%s\": %s", text, err);
}

/* The text must fail with exactly this message. */
static void parse_fails_n(const char *text, size_t len, const char *expected)
{
	struct config cfg;
	char *err = parse_n(&cfg, text, len);
	if (!err)
		fail_msg("\"%s\" was accepted, expected: %s", text, expected);
	if (strcmp(err, expected) != 0)
		fail_msg("for \"%s\"\n  got:      %s\n  expected: %s", text, err, expected);
	free(err);
	config_free(&cfg);
}

static void parse_fails(const char *text, const char *expected)
{
	parse_fails_n(text, strlen(text), expected);
}

/* "[section]\nkey = value\n" must give this error on line 2 (NULL: must parse). */
static void value_gives(const char *section, const char *key, const char *value, const char *reason)
{
	char *text = xasprintf("[%s]\n%s = %s\n", section, key, value);
	if (reason) {
		char *expected = xasprintf("petrel.conf:2: [%s] %s: %s", section, key, reason);
		parse_fails(text, expected);
		free(expected);
	} else {
		struct config cfg;
		parse_ok(&cfg, text);
		config_free(&cfg);
	}
	free(text);
}

static uint64_t number_of(const char *section, const char *key, const char *value, size_t offset)
{
	struct config cfg;
	char *text = xasprintf("[%s]\n%s = %s\n", section, key, value);
	parse_ok(&cfg, text);
	uint64_t v = *(uint64_t *)((char *)&cfg + offset);
	config_free(&cfg);
	free(text);
	return v;
}

static char *print_of(const struct config *cfg)
{
	struct buf out = BUF_INIT;
	config_print(cfg, &out);
	return buf_steal(&out);
}

static char *read_whole_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s (tests run from the repository root)", path);
	struct buf b = BUF_INIT;
	for (;;) {
		buf_reserve(&b, 4096);
		size_t n = fread(b.data + b.len, 1, 4096, f);
		b.len += n;
		b.data[b.len] = '\0';
		if (n == 0)
			break;
	}
	fclose(f);
	return buf_steal(&b);
}

static char *write_temp_file(const char *content)
{
	char *path = xstrdup("/tmp/petrel-test-config-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
	return path;
}

/* ---- defaults and derived paths ----------------------------------------------- */

static void test_defaults_are_sane(void **state)
{
	struct config cfg;
	config_defaults(&cfg);
	assert_string_equal(cfg.source, "(defaults)");
	assert_true(cfg.hostname && cfg.hostname[0]);
	assert_string_equal(cfg.data_dir, "./var");
	assert_string_equal(cfg.user, "");
	assert_string_equal(cfg.log_level, "info");
	assert_false(cfg.log_syslog);
	assert_string_equal(cfg.smtp_listen, "127.0.0.1:2525");
	assert_string_equal(cfg.smtp_submission, "127.0.0.1:2587");
	assert_string_equal(cfg.smtp_submissions, "127.0.0.1:2465");
	assert_string_equal(cfg.imap_listen, "127.0.0.1:1143");
	assert_string_equal(cfg.imap_listen_tls, "127.0.0.1:1993");
	assert_string_equal(cfg.pop3_listen, "127.0.0.1:1110");
	assert_string_equal(cfg.pop3_listen_tls, "127.0.0.1:1995");
	assert_string_equal(cfg.http_listen, "127.0.0.1:8025");
	assert_int_equal(cfg.max_message_size, 50 * 1024 * 1024);
	assert_int_equal(cfg.max_recipients, 100);
	assert_string_equal(cfg.dns_resolver, "");
	assert_string_equal(cfg.store_backend, "sqlite");
	assert_string_equal(cfg.store_url, "");
	assert_int_equal(cfg.max_connections, 1000);
	assert_int_equal(cfg.max_connections_per_ip, 20);
	assert_int_equal(cfg.idle_timeout, 1800);
	assert_int_equal(cfg.command_timeout, 300);
	assert_int_equal(cfg.login_failures_free, 3);
	assert_int_equal(cfg.login_delay_max, 15);
	config_free(&cfg);
	assert_null(cfg.hostname);
	assert_null(cfg.source);
}

static void test_default_paths_are_under_data_dir(void **state)
{
	struct config cfg;
	config_defaults(&cfg);
	assert_string_equal(cfg.tls_cert, "./var/tls/cert.pem");
	assert_string_equal(cfg.tls_key, "./var/tls/key.pem");
	assert_string_equal(cfg.store_path, "./var/petrel.db");
	config_free(&cfg);
}

static void test_setting_data_dir_moves_the_paths_not_set_in_the_text(void **state)
{
	struct config cfg;
	parse_ok(&cfg, "[server]\ndata_dir = /srv/petrel/\n[tls]\nkey = /etc/keys/mail.pem\n");
	assert_string_equal(cfg.data_dir, "/srv/petrel/");
	assert_string_equal(cfg.tls_cert, "/srv/petrel/tls/cert.pem");
	assert_string_equal(cfg.tls_key, "/etc/keys/mail.pem");
	assert_string_equal(cfg.store_path, "/srv/petrel/petrel.db");
	config_free(&cfg);
}

static void test_a_later_text_keeps_paths_an_earlier_text_set(void **state)
{
	struct config cfg;
	struct buf err = BUF_INIT;
	parse_ok(&cfg, "[store]\npath = /db/mail.db\n");
	const char *second = "[server]\ndata_dir = /srv/p\n";
	assert_int_equal(config_parse_text(&cfg, "b.conf", second, strlen(second), &err), 0);
	assert_string_equal(cfg.store_path, "/db/mail.db");
	assert_string_equal(cfg.tls_cert, "/srv/p/tls/cert.pem");
	config_free(&cfg);
	buf_free(&err);
}

static void test_empty_text_gives_the_defaults(void **state)
{
	struct config a, b;
	config_defaults(&a);
	parse_ok(&b, "");
	char *pa = print_of(&a), *pb = print_of(&b);
	assert_string_equal(pa, pb);
	free(pa);
	free(pb);
	config_free(&a);
	config_free(&b);
	parse_ok(&b, "# only a comment\n\n   \n; another\n");
	config_free(&b);
}

/* ---- value types ------------------------------------------------------------------ */

static void test_strings_are_stored_as_written(void **state)
{
	struct config cfg;
	parse_ok(&cfg, "[server]\nhostname = mail.example.com\nuser = petrel\n"
	               "data_dir = /var/lib/petrel data\n"
	               "[store]\nbackend = postgresql\n"
	               "url = postgresql://petrel:s3cr;t#@db.example.com/petrel ; the comment\n");
	assert_string_equal(cfg.hostname, "mail.example.com");
	assert_string_equal(cfg.user, "petrel");
	assert_string_equal(cfg.data_dir, "/var/lib/petrel data");
	assert_string_equal(cfg.store_url, "postgresql://petrel:s3cr;t#@db.example.com/petrel");
	config_free(&cfg);
}

static void test_bool_accepts_yes_no_true_false_on_off_1_0(void **state)
{
	static const char *const yes[] = {"yes", "YES", "true", "True", "on", "1"};
	static const char *const no[] = {"no", "No", "false", "FALSE", "off", "0"};
	struct config cfg;
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		char *text = xasprintf("[server]\nlog_syslog = %s\n", yes[i]);
		parse_ok(&cfg, text);
		assert_true(cfg.log_syslog);
		config_free(&cfg);
		free(text);
		text = xasprintf("[server]\nlog_syslog = %s\n", no[i]);
		parse_ok(&cfg, text);
		assert_false(cfg.log_syslog);
		config_free(&cfg);
		free(text);
	}
	value_gives("server", "log_syslog", "maybe", "not a boolean (yes or no): 'maybe'");
	value_gives("server", "log_syslog", "2", "not a boolean (yes or no): '2'");
	value_gives("server", "log_syslog", "", "not a boolean (yes or no): ''");
}

static void test_uint_accepts_decimal_numbers_in_range(void **state)
{
	assert_int_equal(
	        number_of("smtp", "max_recipients", "1", offsetof(struct config, max_recipients)),
	        1);
	assert_int_equal(number_of("smtp", "max_recipients", "100000",
	                           offsetof(struct config, max_recipients)),
	                 100000);
	assert_int_equal(number_of("limits", "login_failures_free", "0",
	                           offsetof(struct config, login_failures_free)),
	                 0);
	value_gives("smtp", "max_recipients", "ten", "not a number: 'ten'");
	value_gives("smtp", "max_recipients", "-1", "not a number: '-1'");
	value_gives("smtp", "max_recipients", "+5", "not a number: '+5'");
	value_gives("smtp", "max_recipients", "1.5", "not a number: '1.5'");
	value_gives("smtp", "max_recipients", "10K", "not a number: '10K'");
	value_gives("smtp", "max_recipients", "", "not a number: ''");
	value_gives("smtp", "max_recipients", "0", "must be 1 to 100000: '0'");
	value_gives("smtp", "max_recipients", "100001", "must be 1 to 100000: '100001'");
	value_gives("limits", "max_connections", "0", "must be 1 to 1000000: '0'");
	value_gives("limits", "max_connections_per_ip", "0", "must be 1 to 1000000: '0'");
}

static void test_size_suffixes_are_powers_of_1024(void **state)
{
	const size_t off = offsetof(struct config, max_message_size);
	assert_int_equal(number_of("smtp", "max_message_size", "1024", off), 1024);
	assert_int_equal(number_of("smtp", "max_message_size", "1K", off), 1024);
	assert_int_equal(number_of("smtp", "max_message_size", "1k", off), 1024);
	assert_int_equal(number_of("smtp", "max_message_size", "50M", off), 50 * 1048576);
	assert_int_equal(number_of("smtp", "max_message_size", "2G", off), 2147483648ULL);
	assert_int_equal(number_of("smtp", "max_message_size", "2g", off), 2147483648ULL);
	assert_int_equal(number_of("smtp", "max_message_size", "2048M", off), 2147483648ULL);
	const char *bad = "not a size (a number with an optional K, M or G suffix)";
	static const char *const bad_values[] = {"1T", "1KB", "K", "1 K", "-1K", "1.5M", "M50"};
	for (size_t i = 0; i < ARRAY_SIZE(bad_values); i++) {
		char *reason = xasprintf("%s: '%s'", bad, bad_values[i]);
		value_gives("smtp", "max_message_size", bad_values[i], reason);
		free(reason);
	}
	value_gives("smtp", "max_message_size", "1023", "must be 1K to 2G: '1023'");
	value_gives("smtp", "max_message_size", "2049M", "must be 1K to 2G: '2049M'");
}

static void test_numbers_that_overflow_are_rejected(void **state)
{
	value_gives("smtp", "max_message_size", "99999999999999999999G",
	            "number too large: '99999999999999999999G'");
	value_gives("smtp", "max_message_size", "17179869184G", "number too large: '17179869184G'");
	value_gives("smtp", "max_recipients", "18446744073709551616",
	            "number too large: '18446744073709551616'");
	value_gives("smtp", "max_recipients", "18446744073709551615",
	            "must be 1 to 100000: '18446744073709551615'");
	value_gives("limits", "idle_timeout", "213503982334602d",
	            "number too large: '213503982334602d'");
}

static void test_duration_suffixes_are_seconds_minutes_hours_days(void **state)
{
	const size_t off = offsetof(struct config, idle_timeout);
	assert_int_equal(number_of("limits", "idle_timeout", "90", off), 90);
	assert_int_equal(number_of("limits", "idle_timeout", "45s", off), 45);
	assert_int_equal(number_of("limits", "idle_timeout", "2m", off), 120);
	assert_int_equal(number_of("limits", "idle_timeout", "3h", off), 10800);
	assert_int_equal(number_of("limits", "idle_timeout", "1d", off), 86400);
	assert_int_equal(number_of("limits", "login_delay_max", "0",
	                           offsetof(struct config, login_delay_max)),
	                 0);
	const char *bad = "not a duration (seconds, or a number with s, m, h or d)";
	static const char *const bad_values[] = {"1w", "1M", "10ms", "m", "1.5h", "five"};
	for (size_t i = 0; i < ARRAY_SIZE(bad_values); i++) {
		char *reason = xasprintf("%s: '%s'", bad, bad_values[i]);
		value_gives("limits", "idle_timeout", bad_values[i], reason);
		free(reason);
	}
	value_gives("limits", "idle_timeout", "0", "must be 1s to 1d: '0'");
	value_gives("limits", "command_timeout", "25h", "must be 1s to 1d: '25h'");
	value_gives("limits", "login_delay_max", "61m", "must be 0s to 1h: '61m'");
}

static void test_enum_values_are_canonical(void **state)
{
	struct config cfg;
	parse_ok(&cfg, "[server]\nlog_level = WARN\n");
	assert_string_equal(cfg.log_level, "warn");
	config_free(&cfg);
	parse_ok(&cfg, "[store]\nbackend = postgresql\nurl = postgresql:///petrel\n");
	assert_string_equal(cfg.store_backend, "postgresql");
	config_free(&cfg);
	value_gives("server", "log_level", "verbose",
	            "must be one of debug, info, warn, error: 'verbose'");
	value_gives("store", "backend", "mysql", "must be one of sqlite, postgresql: 'mysql'");
}

static void test_postgresql_without_a_url_is_an_error(void **state)
{
	parse_fails("[store]\n\nbackend = postgresql\n",
	            "petrel.conf:3: [store] backend = postgresql needs [store] url");
	parse_fails("[store]\nbackend = postgresql\nurl =\n",
	            "petrel.conf:3: [store] backend = postgresql needs [store] url");
}

static void test_hostname_must_be_a_dns_name(void **state)
{
	static const char *const good[] = {"localhost", "mail.example.com", "a-b.c0", "x1",
	                                   "123.example.com"};
	static const char *const bad[] = {
	        "-a.example.com", "a-.example.com",  "a..b",  "a.",       ".a",
	        "10.0.0.1",       "x_y.example.com", "ma il", "é.example"};
	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		value_gives("server", "hostname", good[i], NULL);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char *reason = xasprintf("not a valid DNS name: '%s'", bad[i]);
		value_gives("server", "hostname", bad[i], reason);
		free(reason);
	}
	char label63[64], label64[65];
	memset(label63, 'a', 63);
	label63[63] = '\0';
	memset(label64, 'a', 64);
	label64[64] = '\0';
	value_gives("server", "hostname", label63, NULL);
	char *reason = xasprintf("not a valid DNS name: '%s'", label64);
	value_gives("server", "hostname", label64, reason);
	free(reason);
}

static void test_user_data_dir_and_resolver_are_checked(void **state)
{
	value_gives("server", "user", "_petrel-1.x", NULL);
	value_gives("server", "user", "-rf", "not a valid user name: '-rf'");
	value_gives("server", "user", "a b", "not a valid user name: 'a b'");
	value_gives("server", "data_dir", "", "must not be empty: ''");
	value_gives("tls", "cert", "", "must not be empty: ''");
	value_gives("dns", "resolver", "127.0.0.1:53", NULL);
	value_gives("dns", "resolver", "[::1]:5353", NULL);
	value_gives("dns", "resolver", "", NULL);
	const char *why = "must be one IP address and port, as in 127.0.0.1:53 or [::1]:53";
	static const char *const bad[] = {"ns.example.com:53", "127.0.0.1", "*:53",
	                                  "127.0.0.1:53, 127.0.0.2:53"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char *reason = xasprintf("%s: '%s'", why, bad[i]);
		value_gives("dns", "resolver", bad[i], reason);
		free(reason);
	}
}

/* ---- errors name the file and the line ------------------------------------------ */

static void test_unknown_section_is_reported_at_its_line(void **state)
{
	parse_fails("# petrel\n\n[smpt]\nlisten = 127.0.0.1:25\n",
	            "petrel.conf:3: unknown section [smpt]");
	/* even when the section holds no key */
	parse_fails("[smtp]\n[imap ]\n", "petrel.conf:2: unknown section [imap ]");
	parse_fails("[]\n", "petrel.conf:1: unknown section []");
}

static void test_unknown_key_is_reported_at_its_line(void **state)
{
	parse_fails("[server]\nlog_level = info\n\n[imap]\n; comment\n\nlistn = 127.0.0.1:143\n",
	            "petrel.conf:7: [imap] unknown key 'listn'");
	/* keys are looked up in their own section only */
	parse_fails("[imap]\nmax_recipients = 5\n", "petrel.conf:2: [imap] unknown key "
	                                            "'max_recipients'");
	parse_fails("[smtp]\nMAX_RECIPIENTS = 5\n", "petrel.conf:2: [smtp] unknown key "
	                                            "'MAX_RECIPIENTS'");
}

static void test_a_key_before_any_section_is_an_error(void **state)
{
	parse_fails("\nhostname = mail.example.com\n",
	            "petrel.conf:2: key 'hostname' before any [section]");
}

static void test_duplicate_key_is_an_error(void **state)
{
	parse_fails("[smtp]\nmax_recipients = 5\n[imap]\n[smtp]\nmax_recipients = 6\n",
	            "petrel.conf:5: [smtp] duplicate key 'max_recipients' (first set on line 2)");
	/* the same key name in two sections is two keys */
	struct config cfg;
	parse_ok(&cfg, "[smtp]\nlisten = 127.0.0.1:25\n[imap]\nlisten = 127.0.0.1:143\n");
	assert_string_equal(cfg.smtp_listen, "127.0.0.1:25");
	assert_string_equal(cfg.imap_listen, "127.0.0.1:143");
	config_free(&cfg);
}

static void test_syntax_errors_are_reported_at_their_line(void **state)
{
	parse_fails("[smtp]\nmax_recipients = 5\n\n\n\n\n\n\njust some words\n",
	            "petrel.conf:9: syntax error: expected 'key = value'");
	parse_fails("[smtp]\nmax_recipients ; = 5\n",
	            "petrel.conf:2: syntax error: expected 'key = value'");
	parse_fails("[smtp\n", "petrel.conf:1: syntax error: missing ']'");
	parse_fails("[smtp] listen = x\n", "petrel.conf:1: syntax error: text after ']'");
	/* the first error wins, even a syntax error before a bad value */
	parse_fails("[smtp]\noops\nmax_recipients = ten\n",
	            "petrel.conf:2: syntax error: expected 'key = value'");
	parse_fails("[smtp]\nmax_recipients = ten\noops\n",
	            "petrel.conf:2: [smtp] max_recipients: not a number: 'ten'");
}

static void test_a_nul_byte_is_an_error_naming_its_line(void **state)
{
	static const char text[] = "[smtp]\nmax_recipients = 5\0\n[imap]\n";
	parse_fails_n(text, sizeof(text) - 1, "petrel.conf:2: NUL byte in the line");
	static const char text2[] = "[smtp]\n# a comment\0with a NUL\n";
	parse_fails_n(text2, sizeof(text2) - 1, "petrel.conf:2: NUL byte in the line");
}

static void test_control_characters_are_rejected(void **state)
{
	parse_fails("[server]\nuser = pe\x01trel\n",
	            "petrel.conf:2: control character 0x01 in the line");
	parse_fails("# \x1b[31mred\n", "petrel.conf:1: control character 0x1b in the line");
	parse_fails("[server]\ndata_dir = a\rb\n",
	            "petrel.conf:2: control character 0x0d in the line");
	parse_fails("[server]\ndata_dir = /x\x7f\n",
	            "petrel.conf:2: control character 0x7f in the line");
	/* tabs separate, but are no part of a value */
	parse_fails("[server]\ndata_dir = a\tb\n",
	            "petrel.conf:2: [server] data_dir: control character 0x09 in the value");
	struct config cfg;
	parse_ok(&cfg, "[server]\n\tdata_dir\t=\t/srv\t\n");
	assert_string_equal(cfg.data_dir, "/srv");
	config_free(&cfg);
}

static void test_values_and_lines_have_a_length_limit(void **state)
{
	struct config cfg;
	struct buf text = BUF_INIT;

	/* longer than inih's default line buffer (200 bytes), well within ours */
	buf_puts(&text, "[server]\ndata_dir = /");
	for (int i = 0; i < 500; i++)
		buf_putc(&text, 'd');
	buf_puts(&text, "\n");
	parse_ok(&cfg, buf_cstr(&text));
	assert_int_equal(strlen(cfg.data_dir), 501);
	config_free(&cfg);

	buf_reset(&text);
	buf_puts(&text, "[store]\nurl = ");
	for (int i = 0; i < CONFIG_MAX_VALUE; i++)
		buf_putc(&text, 'u');
	parse_ok(&cfg, buf_cstr(&text));
	assert_int_equal(strlen(cfg.store_url), CONFIG_MAX_VALUE);
	config_free(&cfg);

	buf_putc(&text, 'u');
	parse_fails(buf_cstr(&text),
	            "petrel.conf:2: [store] url: value too long (4097 bytes, at most 4096)");

	buf_reset(&text);
	buf_puts(&text, "[store]\n# ");
	for (int i = 0; i < CONFIG_MAX_LINE; i++)
		buf_putc(&text, '#');
	buf_puts(&text, "\nurl = x\n");
	parse_fails(buf_cstr(&text), "petrel.conf:2: line too long (at most 8192 bytes)");
	buf_free(&text);
}

static void test_a_value_cannot_start_with_a_semicolon(void **state)
{
	parse_fails("[store]\nurl=;x\n", "petrel.conf:2: [store] url: a value cannot start "
	                                 "with ';' (it would read as a comment)");
}

/*
 * inih reads an indented line as the continuation of the previous value. petrel
 * has no continuation lines: indentation is ignored, so an indented line is a
 * line of its own, and an indented line that is no valid line says why.
 */
static void test_indented_lines_are_lines_of_their_own(void **state)
{
	struct config cfg;
	parse_ok(&cfg, "[smtp]\n  listen = 127.0.0.1:25\n  max_recipients = 7\n"
	               "    # an indented comment\n  [imap]\n\tlisten =\n");
	assert_string_equal(cfg.smtp_listen, "127.0.0.1:25");
	assert_int_equal(cfg.max_recipients, 7);
	assert_string_equal(cfg.imap_listen, "");
	config_free(&cfg);

	const char *hint = " (an indented line does not continue the value above it: write a "
	                   "value on one line)";
	char *expected = xasprintf("petrel.conf:3: [smtp] unknown key '127.0.0.2'%s", hint);
	parse_fails("[smtp]\nlisten = 127.0.0.1:25\n         127.0.0.2:25\n", expected);
	free(expected);
	expected = xasprintf("petrel.conf:3: syntax error: text after ']'%s", hint);
	parse_fails("[smtp]\nlisten = 127.0.0.1:25\n         [::1]:25\n", expected);
	free(expected);
	expected = xasprintf("petrel.conf:3: syntax error: expected 'key = value'%s", hint);
	parse_fails("[server]\ndata_dir = /srv/petrel\n    more\n", expected);
	free(expected);
	/* no hint for a valid key line with a bad value */
	parse_fails("[smtp]\nlisten = 127.0.0.1:25\n  max_recipients = 0\n",
	            "petrel.conf:3: [smtp] max_recipients: must be 1 to 100000: '0'");
	/* nor for an indented line right under a section header */
	parse_fails("[smtp]\n    more\n", "petrel.conf:2: syntax error: expected 'key = value'");
}

static void test_comments_crlf_and_a_bom_are_accepted(void **state)
{
	struct config cfg;
	parse_ok(&cfg, "\xEF\xBB\xBF[smtp] ; the SMTP section\r\n"
	               "# a comment\r\n"
	               "; another\r\n"
	               "max_recipients = 42 ; inline comment\r\n"
	               "[server]\r\n"
	               "data_dir = /srv;no comment without a blank before it\r\n");
	assert_int_equal(cfg.max_recipients, 42);
	assert_string_equal(cfg.data_dir, "/srv;no comment without a blank before it");
	config_free(&cfg);
	parse_ok(&cfg, "[smtp]\r\nmax_recipients = 43"); /* no final newline */
	assert_int_equal(cfg.max_recipients, 43);
	config_free(&cfg);
	/* a BOM is only skipped at the very start */
	parse_fails("[smtp]\n\xEF\xBB\xBFmax_recipients = 1\n",
	            "petrel.conf:2: [smtp] unknown key '\xEF\xBB\xBFmax_recipients'");
}

static void test_a_section_may_repeat_and_a_colon_may_separate(void **state)
{
	struct config cfg;
	parse_ok(&cfg, "[smtp]\nlisten = 127.0.0.1:25\n[imap]\n[smtp]\nmax_recipients: 6\n");
	assert_string_equal(cfg.smtp_listen, "127.0.0.1:25");
	assert_int_equal(cfg.max_recipients, 6);
	config_free(&cfg);
}

static void test_a_failed_parse_leaves_the_config_unchanged(void **state)
{
	struct config cfg;
	struct buf err = BUF_INIT;
	parse_ok(&cfg, "[smtp]\nmax_recipients = 9\n");
	char *before = print_of(&cfg);
	const char *bad = "[server]\ndata_dir = /elsewhere\n[smtp]\nmax_recipients = 0\n";
	assert_int_equal(config_parse_text(&cfg, "bad.conf", bad, strlen(bad), &err), -1);
	assert_string_equal(buf_cstr(&err), "bad.conf:4: [smtp] max_recipients: must be 1 to "
	                                    "100000: '0'");
	char *after = print_of(&cfg);
	assert_string_equal(before, after);
	free(before);
	free(after);
	buf_free(&err);
	config_free(&cfg);
}

/* ---- listeners -------------------------------------------------------------------- */

static void test_an_empty_listener_switches_it_off(void **state)
{
	struct config cfg;
	struct listen_addr *addrs = (void *)1;
	size_t n = 99;
	struct buf err = BUF_INIT;
	parse_ok(&cfg, "[smtp]\nsubmissions =\n[pop3]\nlisten = ; off\nlisten_tls =    \n");
	assert_string_equal(cfg.smtp_submissions, "");
	assert_string_equal(cfg.pop3_listen, "");
	assert_string_equal(cfg.pop3_listen_tls, "");
	assert_int_equal(config_parse_listen(cfg.smtp_submissions, &addrs, &n, &err), 0);
	assert_null(addrs);
	assert_int_equal(n, 0);
	assert_int_equal(config_parse_listen("  ", &addrs, &n, &err), 0);
	assert_int_equal(n, 0);
	config_listen_free(&addrs, n);
	config_free(&cfg);
	buf_free(&err);
}

static void test_listen_lists_parse_ipv4_ipv6_names_and_any(void **state)
{
	struct listen_addr *a;
	size_t n;
	struct buf err = BUF_INIT;
	assert_int_equal(config_parse_listen("127.0.0.1:25, [::1]:587 ,mail.example.com:2525,"
	                                     "*:110,[::]:143,0.0.0.0:1,localhost:65535",
	                                     &a, &n, &err),
	                 0);
	assert_int_equal(n, 7);
	assert_string_equal(a[0].host, "127.0.0.1");
	assert_int_equal(a[0].port, 25);
	assert_string_equal(a[1].host, "::1");
	assert_int_equal(a[1].port, 587);
	assert_string_equal(a[2].host, "mail.example.com");
	assert_int_equal(a[2].port, 2525);
	assert_string_equal(a[3].host, "*");
	assert_int_equal(a[3].port, 110);
	assert_string_equal(a[4].host, "::");
	assert_string_equal(a[5].host, "0.0.0.0");
	assert_int_equal(a[5].port, 1);
	assert_string_equal(a[6].host, "localhost");
	assert_int_equal(a[6].port, 65535);
	config_listen_free(&a, n);
	assert_null(a);
	assert_int_equal(config_parse_listen("[2001:db8::25]:25", &a, &n, &err), 0);
	assert_string_equal(a[0].host, "2001:db8::25");
	config_listen_free(&a, n);
	assert_int_equal(err.len, 0);
	buf_free(&err);
}

static void test_bad_listen_items_are_rejected_with_a_reason(void **state)
{
	static const struct {
		const char *value, *reason;
	} cases[] = {
	        {"127.0.0.1:0", "port must be 1 to 65535 in '127.0.0.1:0'"},
	        {"127.0.0.1:65536", "port must be 1 to 65535 in '127.0.0.1:65536'"},
	        {"127.0.0.1:x", "port must be 1 to 65535 in '127.0.0.1:x'"},
	        {"127.0.0.1:", "port must be 1 to 65535 in '127.0.0.1:'"},
	        {"127.0.0.1:-25", "port must be 1 to 65535 in '127.0.0.1:-25'"},
	        {"[::1]:99999999999999999999", "port must be 1 to 65535 in "
	                                       "'[::1]:99999999999999999999'"},
	        {"127.0.0.1", "missing ':port' in '127.0.0.1'"},
	        {":25", "missing host in ':25'"},
	        {"::1:25", "an IPv6 address needs brackets, as in [::1]:25: '::1:25'"},
	        {"[::1]", "missing ':port' after ']' in '[::1]'"},
	        {"[::1]25", "missing ':port' after ']' in '[::1]25'"},
	        {"[::1:25", "missing ']' in '[::1:25'"},
	        {"[]:25", "not an IPv6 address in '[]:25'"},
	        {"[1.2.3.4]:25", "not an IPv6 address in '[1.2.3.4]:25'"},
	        {"[mail]:25", "not an IPv6 address in '[mail]:25'"},
	        {"1.2.3:25", "not an IPv4 address in '1.2.3:25'"},
	        {"256.1.1.1:25", "not an IPv4 address in '256.1.1.1:25'"},
	        {"bad_host:25", "not a host name or IP address in 'bad_host:25'"},
	        {"a b:25", "not a host name or IP address in 'a b:25'"},
	        {",", "empty address in the list"},
	        {"127.0.0.1:25,", "empty address in the list"},
	        {"127.0.0.1:25,,[::1]:25", "empty address in the list"},
	        {"127.0.0.1:25, 127.0.0.1:25", "address listed twice: '127.0.0.1:25'"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct listen_addr *a = (void *)1;
		size_t n = 99;
		struct buf err = BUF_INIT;
		assert_int_equal(config_parse_listen(cases[i].value, &a, &n, &err), -1);
		assert_null(a);
		assert_int_equal(n, 0);
		if (strcmp(buf_cstr(&err), cases[i].reason) != 0)
			fail_msg("for '%s'\n  got:      %s\n  expected: %s", cases[i].value,
			         buf_cstr(&err), cases[i].reason);
		buf_free(&err);
	}
}

static void test_a_listen_list_has_at_most_64_addresses(void **state)
{
	struct buf v = BUF_INIT, err = BUF_INIT;
	struct listen_addr *a;
	size_t n;
	for (int i = 1; i <= CONFIG_MAX_LISTEN; i++)
		buf_printf(&v, "%s127.0.0.1:%d", i > 1 ? "," : "", i);
	assert_int_equal(config_parse_listen(buf_cstr(&v), &a, &n, &err), 0);
	assert_int_equal(n, CONFIG_MAX_LISTEN);
	config_listen_free(&a, n);
	buf_puts(&v, ",127.0.0.1:65000");
	assert_int_equal(config_parse_listen(buf_cstr(&v), &a, &n, &err), -1);
	assert_string_equal(buf_cstr(&err), "more than 64 addresses");
	buf_free(&v);
	buf_free(&err);
}

static void test_a_bad_listener_in_a_file_names_its_line(void **state)
{
	parse_fails("[smtp]\nlisten = 127.0.0.1:25\n[http]\nlisten = 127.0.0.1:65536\n",
	            "petrel.conf:4: [http] listen: port must be 1 to 65535 in "
	            "'127.0.0.1:65536'");
}

/* ---- printing ----------------------------------------------------------------------- */

static void test_config_print_round_trips(void **state)
{
	struct config a, b;
	struct buf err = BUF_INIT;
	parse_ok(&a, "[server]\nhostname = mx1.example.org\ndata_dir = /srv/petrel\n"
	             "user = mail\nlog_level = debug\nlog_syslog = on\n"
	             "[smtp]\nlisten = 0.0.0.0:25, [::]:25\nsubmissions =\n"
	             "max_message_size = 1500K\nmax_recipients = 1000\n"
	             "[dns]\nresolver = [::1]:53\n"
	             "[store]\nbackend = postgresql\nurl = postgresql://p@db/petrel?x=1#y\n"
	             "[limits]\nidle_timeout = 7200\ncommand_timeout = 61\n"
	             "login_delay_max = 0\nmax_connections = 102400\n");
	char *printed = print_of(&a);
	config_defaults(&b);
	if (config_parse_text(&b, "printed", printed, strlen(printed), &err) != 0)
		fail_msg("printed config does not parse: %s\n%s", buf_cstr(&err), printed);
	char *again = print_of(&b);
	assert_string_equal(printed, again);
	assert_string_equal(b.hostname, "mx1.example.org");
	assert_string_equal(b.smtp_listen, "0.0.0.0:25, [::]:25");
	assert_string_equal(b.smtp_submissions, "");
	assert_string_equal(b.tls_cert, "/srv/petrel/tls/cert.pem");
	assert_int_equal(b.max_message_size, 1500 * 1024);
	assert_int_equal(b.idle_timeout, 7200);
	assert_int_equal(b.command_timeout, 61);
	assert_true(b.log_syslog);
	assert_string_equal(b.store_url, "postgresql://p@db/petrel?x=1#y");
	assert_non_null(strstr(printed, "\nidle_timeout = 2h\n"));
	assert_non_null(strstr(printed, "\ncommand_timeout = 61s\n"));
	assert_non_null(strstr(printed, "\nlogin_delay_max = 0s\n"));
	assert_non_null(strstr(printed, "\nmax_message_size = 1500K\n"));
	assert_non_null(strstr(printed, "\nmax_connections = 102400\n"));
	assert_non_null(strstr(printed, "\nuser = mail\n"));
	assert_non_null(strstr(printed, "\nsubmissions =\n"));
	free(printed);
	free(again);
	config_free(&a);
	config_free(&b);
	buf_free(&err);
}

static void test_config_print_keeps_the_source_on_one_comment_line(void **state)
{
	struct config cfg;
	config_defaults(&cfg);
	free(cfg.source);
	cfg.source = xstrdup("/tmp/odd\nname.conf");
	char *printed = print_of(&cfg);
	assert_non_null(strstr(printed, "# petrel configuration, from /tmp/odd?name.conf\n"));
	free(printed);
	config_free(&cfg);
}

static void test_the_reference_lists_every_key(void **state)
{
	struct buf ref = BUF_INIT;
	struct config cfg;
	config_print_reference(&ref);
	config_defaults(&cfg);
	char *printed = print_of(&cfg);
	/* every "key = value" line of config_print has its row under its section */
	char *section = NULL;
	for (char *line = strtok(printed, "\n"); line; line = strtok(NULL, "\n")) {
		if (line[0] == '[') {
			free(section);
			section = xasprintf("## %s\n", line);
			assert_non_null(strstr(buf_cstr(&ref), section));
		} else if (line[0] != '#') {
			char *row = xasprintf("| `%.*s` |", (int)strcspn(line, " "), line);
			const char *at = strstr(buf_cstr(&ref), section);
			assert_non_null(strstr(at, row));
			free(row);
		}
	}
	free(section);
	free(printed);
	config_free(&cfg);
	buf_free(&ref);
}

static void test_docs_config_md_holds_the_current_reference(void **state)
{
	struct buf ref = BUF_INIT;
	config_print_reference(&ref);
	char *doc = read_whole_file("docs/config.md");
	if (!strstr(doc, buf_cstr(&ref)))
		fail_msg("docs/config.md is out of date: paste config_print_reference's "
		         "output into it");
	free(doc);
	buf_free(&ref);
}

/* ---- [queue] and [routes] --------------------------------------------------------- */

static void test_queue_retry_is_a_list_of_durations(void **state)
{
	value_gives("queue", "retry", "1s", NULL);
	value_gives("queue", "retry", "1s,2m, 3h ,4d", NULL);
	value_gives("queue", "retry", "5x",
	            "not a duration (seconds, or a number with s, m, h or d): '5x'");
	value_gives("queue", "retry", "1m,,2m",
	            "not a duration (seconds, or a number with s, m, h or d): '1m,,2m'");
	value_gives("queue", "retry", "0s", "each duration must be 1s to 30d: '0s'");
	value_gives("queue", "retry", "31d", "each duration must be 1s to 30d: '31d'");
	struct buf list = BUF_INIT;
	for (int i = 0; i < CONFIG_MAX_RETRY; i++)
		buf_puts(&list, i ? ",1s" : "1s");
	value_gives("queue", "retry", buf_cstr(&list), NULL);
	buf_puts(&list, ",1s");
	char *text = xasprintf("[queue]\nretry = %s\n", buf_cstr(&list));
	struct config cfg;
	char *e = parse(&cfg, text);
	assert_non_null(e);
	assert_non_null(strstr(e, "petrel.conf:2: [queue] retry: more than 32 durations: '1s,"));
	free(e);
	free(text);
	config_free(&cfg);
	buf_free(&list);
	uint64_t v[4];
	size_t n;
	struct buf err = BUF_INIT;
	assert_int_equal(config_parse_durations(" 1m , 2h", v, 4, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(v[0], 60);
	assert_int_equal(v[1], 7200);
	buf_free(&err);
}

static void test_routes_are_free_keys_kept_in_file_order(void **state)
{
	struct config cfg;
	parse_ok(&cfg, "[routes]\nExample.ORG = [127.0.0.1]:2526\n* = [relay.example.net]:587 "
	               "require-tls\nsecure.example = mx verify\n");
	assert_int_equal(cfg.nroutes, 3);
	assert_string_equal(cfg.routes[0].key, "example.org");
	assert_string_equal(cfg.routes[0].value, "[127.0.0.1]:2526");
	assert_string_equal(cfg.routes[1].key, "*");
	assert_string_equal(config_route_for(&cfg, "EXAMPLE.org"), "[127.0.0.1]:2526");
	assert_string_equal(config_route_for(&cfg, "secure.example"), "mx verify");
	assert_string_equal(config_route_for(&cfg, "other.example"),
	                    "[relay.example.net]:587 require-tls");
	config_free(&cfg);
	parse_ok(&cfg, "");
	assert_int_equal(cfg.nroutes, 0);
	assert_null(config_route_for(&cfg, "example.org"));
	config_free(&cfg);
}

static void test_bad_routes_are_reported_at_their_line(void **state)
{
	parse_fails("[routes]\nbad_domain = [127.0.0.1]\n",
	            "petrel.conf:2: [routes] bad_domain: not a domain name (or '*')");
	parse_fails("[routes]\na.example = [::1\n",
	            "petrel.conf:2: [routes] a.example: missing ']' in '[::1'");
	parse_fails("[routes]\na.example = ::1:25\n",
	            "petrel.conf:2: [routes] a.example: an IPv6 address needs brackets, as in "
	            "[::1]:25: '::1:25'");
	parse_fails("[routes]\na.example = require-tls\n",
	            "petrel.conf:2: [routes] a.example: no next hop (write 'mx' for the domain's "
	            "own MX hosts)");
	parse_fails("[routes]\na.example = mx, [192.0.2.1]\n",
	            "petrel.conf:2: [routes] a.example: 'mx' stands alone: it cannot be mixed "
	            "with next hops");
	parse_fails("[routes]\na.example = [192.0.2.1]:0\n",
	            "petrel.conf:2: [routes] a.example: port must be 1 to 65535 in "
	            "'[192.0.2.1]:0'");
	parse_fails("[routes]\na.example = verify [192.0.2.1]\n",
	            "petrel.conf:2: [routes] a.example: next hops come before the policy words: "
	            "'[192.0.2.1]'");
	parse_fails("[routes]\na.example = [192.0.2.1]\n\nA.Example = [192.0.2.2]\n",
	            "petrel.conf:4: [routes] duplicate key 'A.Example' (first set on line 2)");
	parse_fails("[routes]\na.example =;x\n",
	            "petrel.conf:2: [routes] a.example: a value cannot start with ';' (it would "
	            "read as a comment)");
}

static void test_a_route_reads_its_hops_and_policy(void **state)
{
	struct config_route r;
	struct buf err = BUF_INIT;
	assert_int_equal(config_parse_route("[127.0.0.1]:2526", &r, &err), 0);
	assert_int_equal(r.nhops, 1);
	assert_string_equal(r.hops[0].host, "127.0.0.1");
	assert_int_equal(r.hops[0].port, 2526);
	assert_false(r.hops[0].mx || r.require_tls || r.verify);
	config_route_free(&r);
	assert_int_equal(config_parse_route("relay.example.net:587, [b.example] [::1]:25 192.0.2.7 "
	                                    "require-tls",
	                                    &r, &err),
	                 0);
	assert_int_equal(r.nhops, 4);
	assert_true(r.hops[0].mx);
	assert_int_equal(r.hops[0].port, 587);
	assert_false(r.hops[1].mx);
	assert_int_equal(r.hops[1].port, 0);
	assert_string_equal(r.hops[2].host, "::1");
	assert_false(r.hops[3].mx); /* an IP literal is taken as is */
	assert_true(r.require_tls && !r.verify);
	config_route_free(&r);
	assert_int_equal(config_parse_route("mx verify", &r, &err), 0);
	assert_int_equal(r.nhops, 0);
	assert_true(r.require_tls && r.verify);
	config_route_free(&r);
	struct buf many = BUF_INIT;
	for (int i = 0; i <= CONFIG_MAX_HOPS; i++)
		buf_printf(&many, "[192.0.2.%d] ", i + 1);
	assert_int_equal(config_parse_route(buf_cstr(&many), &r, &err), -1);
	assert_string_equal(buf_cstr(&err), "more than 16 next hops");
	assert_null(r.hops);
	buf_free(&many);
	buf_free(&err);
}

static void test_routes_round_trip_and_a_later_text_replaces_them(void **state)
{
	struct config a, b;
	parse_ok(&a, "[routes]\nexample.org = [127.0.0.1]:2526\n* = mx require-tls\n");
	char *printed = print_of(&a);
	assert_non_null(strstr(printed, "\n[routes]\nexample.org = [127.0.0.1]:2526\n"
	                                "* = mx require-tls\n"));
	struct buf err = BUF_INIT;
	config_defaults(&b);
	if (config_parse_text(&b, "printed", printed, strlen(printed), &err) != 0)
		fail_msg("%s", buf_cstr(&err));
	char *again = print_of(&b);
	assert_string_equal(printed, again);
	const char later[] = "[routes]\nexample.org = [127.0.0.2]:25\n";
	if (config_parse_text(&b, "later", later, strlen(later), &err) != 0)
		fail_msg("%s", buf_cstr(&err));
	assert_int_equal(b.nroutes, 2);
	assert_string_equal(config_route_for(&b, "example.org"), "[127.0.0.2]:25");
	free(printed);
	free(again);
	config_free(&a);
	config_free(&b);
	buf_free(&err);
}

static void test_a_route_may_carry_smarthost_credentials(void **state)
{
	struct config_route r;
	struct buf err = BUF_INIT;
	assert_int_equal(config_parse_route("[relay.example.net]:587 auth=relay:pa:ss", &r, &err),
	                 0);
	assert_string_equal(r.auth_user, "relay");
	assert_string_equal(r.auth_password, "pa:ss");
	assert_null(r.auth_file);
	assert_true(r.require_tls && !r.verify); /* credentials only over TLS */
	config_route_free(&r);
	assert_null(r.auth_user);
	assert_int_equal(
	        config_parse_route("[relay.example.net] verify auth-file=/etc/x.secret", &r, &err),
	        0);
	assert_null(r.auth_user);
	assert_string_equal(r.auth_file, "/etc/x.secret");
	assert_true(r.require_tls && r.verify);
	config_route_free(&r);
	static const struct {
		const char *value, *error;
	} bad[] = {
	        {"[relay.example.net] auth=nopassword", "credentials must be USER:PASSWORD"},
	        {"[relay.example.net] auth=:secret", "credentials must be USER:PASSWORD"},
	        {"[relay.example.net] auth=user:", "credentials must be USER:PASSWORD"},
	        {"[relay.example.net] auth-file=", "auth-file= needs a path"},
	        {"[relay.example.net] auth=a:b auth-file=/x",
	         "credentials given twice (auth= or auth-file=)"},
	        {"mx auth=a:b", "auth= and auth-file= need a next hop (a smarthost)"},
	        {"auth=a:b [relay.example.net]",
	         "auth= and auth-file= need a next hop (a smarthost)"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		buf_reset(&err);
		if (config_parse_route(bad[i].value, &r, &err) == 0)
			fail_msg("'%s' was accepted", bad[i].value);
		assert_string_equal(buf_cstr(&err), bad[i].error);
		assert_null(r.auth_user);
		assert_null(r.auth_file);
	}
	/* a secret is never quoted back */
	parse_fails("[routes]\n* = [relay.example.net] auth=secret\n",
	            "petrel.conf:2: [routes] *: credentials must be USER:PASSWORD");
	buf_free(&err);
}

static void test_an_auth_file_holds_user_and_password_on_its_first_line(void **state)
{
	char *user, *password;
	struct buf err = BUF_INIT;
	const char text[] = "relay:with spaces: and colons\r\nignored\n";
	assert_int_equal(config_parse_auth(text, strlen(text), &user, &password, &err), 0);
	assert_string_equal(user, "relay");
	assert_string_equal(password, "with spaces: and colons");
	free(user);
	free(password);
	assert_int_equal(config_parse_auth("relay", 5, &user, &password, &err), -1);
	assert_string_equal(buf_cstr(&err), "credentials must be USER:PASSWORD");
	assert_null(user);
	buf_reset(&err);
	assert_int_equal(config_parse_auth("a:b\x01", 4, &user, &password, &err), -1);
	assert_string_equal(buf_cstr(&err), "a control character in the credentials");
	buf_free(&err);
}

static void test_pools_are_sections_with_addresses_and_a_sender_map(void **state)
{
	struct config cfg;
	parse_ok(&cfg, "[pool.main]\naddresses = 192.0.2.10 mx1.example.com, 192.0.2.11,"
	               "2001:db8::25 mx6.example.com\nehlo = out.example.com\nmax_connections = 4\n"
	               "[pool.vip-2]\naddresses = 198.51.100.1\n"
	               "[pools]\nExample.COM = main\nboss@example.com = vip-2\ndefault = main\n");
	assert_int_equal(cfg.npools, 2);
	const struct config_pool *m = config_pool_find(&cfg, "main");
	assert_non_null(m);
	assert_int_equal(m->naddrs, 3);
	assert_string_equal(m->addrs[0].ip, "192.0.2.10");
	assert_string_equal(m->addrs[0].ehlo, "mx1.example.com");
	assert_null(m->addrs[1].ehlo);
	assert_string_equal(m->addrs[2].ip, "2001:db8::25");
	assert_string_equal(m->addrs[2].ehlo, "mx6.example.com");
	assert_string_equal(m->ehlo, "out.example.com");
	assert_int_equal(m->max_connections, 4);
	const struct config_pool *v = config_pool_find(&cfg, "vip-2");
	assert_non_null(v);
	assert_null(v->ehlo);
	assert_int_equal(v->max_connections, 0);
	assert_null(config_pool_find(&cfg, "Main")); /* names are exact */
	/* the whole address, then its domain, then default */
	assert_string_equal(config_pool_for(&cfg, "Boss@Example.com"), "vip-2");
	assert_string_equal(config_pool_for(&cfg, "alice@example.com"), "main");
	assert_string_equal(config_pool_for(&cfg, "x@elsewhere.example"), "main");
	assert_string_equal(config_pool_for(&cfg, ""), "main");
	config_free(&cfg);
	parse_ok(&cfg, "[pool.a]\naddresses = 192.0.2.1\n[pools]\nexample.com = a\n");
	assert_null(config_pool_for(&cfg, "x@other.example"));
	assert_null(config_pool_for(&cfg, ""));
	config_free(&cfg);
	parse_ok(&cfg, "");
	assert_int_equal(cfg.npools, 0);
	assert_null(config_pool_for(&cfg, "x@example.com"));
	config_free(&cfg);
}

static void test_bad_pools_are_reported_at_their_line(void **state)
{
	parse_fails("[pool.main]\naddresses = 192.0.2.1, 10.0.0\n",
	            "petrel.conf:2: [pool.main] addresses: not an IP address: '10.0.0'");
	parse_fails("[pool.main]\naddresses = 192.0.2.1 bad_name\n",
	            "petrel.conf:2: [pool.main] addresses: not a host name for EHLO: 'bad_name'");
	parse_fails("[pool.main]\naddresses = 192.0.2.1 a.example b.example\n",
	            "petrel.conf:2: [pool.main] addresses: not a host name for EHLO: "
	            "'a.example b.example'");
	parse_fails("[pool.main]\naddresses = 192.0.2.1,,192.0.2.2\n",
	            "petrel.conf:2: [pool.main] addresses: empty address in the list");
	parse_fails("[pool.main]\naddresses = 192.0.2.1, 192.0.2.1\n",
	            "petrel.conf:2: [pool.main] addresses: address listed twice: '192.0.2.1'");
	parse_fails("[pool.main]\naddresses =\n",
	            "petrel.conf:2: [pool.main] addresses: no address given");
	parse_fails("[pool.main]\naddresses = 192.0.2.1\nehlo = -bad\n",
	            "petrel.conf:3: [pool.main] ehlo: not a valid DNS name: '-bad'");
	parse_fails("[pool.main]\naddresses = 192.0.2.1\nmax_connections = many\n",
	            "petrel.conf:3: [pool.main] max_connections: not a number: 'many'");
	parse_fails("[pool.main]\naddresses = 192.0.2.1\nmax_connections = 100001\n",
	            "petrel.conf:3: [pool.main] max_connections: must be 0 to 100000: '100001'");
	parse_fails("[pool.main]\naddresses = 192.0.2.1\nsize = 3\n",
	            "petrel.conf:3: [pool.main] unknown key 'size'");
	parse_fails("[pool.main]\naddresses = 192.0.2.1\naddresses = 192.0.2.2\n",
	            "petrel.conf:3: [pool.main] duplicate key 'addresses' (first set on line 2)");
	parse_fails("[pool.main]\naddresses = 192.0.2.1\n[smtp]\n[pool.main]\n",
	            "petrel.conf:4: duplicate section [pool.main] (first on line 1)");
	parse_fails("[pool.bad name]\n",
	            "petrel.conf:1: [pool.bad name]: a pool's name is 1 to 32 letters, digits, "
	            "'-' or '_'");
	parse_fails("[pool]\n", "petrel.conf:1: unknown section [pool]");
	parse_fails("[pool.NAME]\n", "petrel.conf:1: [pool.NAME] needs addresses");
	parse_fails("[smtp]\n\n[pool.empty]\nehlo = x.example\n",
	            "petrel.conf:3: [pool.empty] needs addresses");
	parse_fails(
	        "[pool.a]\naddresses = 192.0.2.1\n[pools]\nexample.com = a\nx@example.com = b\n",
	        "petrel.conf:5: [pools] x@example.com: no pool named 'b' (no [pool.b] section)");
	parse_fails(
	        "[pools]\nnot a domain = a\n",
	        "petrel.conf:2: [pools] not a domain: not a sender address, domain or 'default'");
	parse_fails("[pools]\nexample.com = a b\n",
	            "petrel.conf:2: [pools] example.com: not a pool name: 'a b'");
	parse_fails("[pools]\n@example.com = a\n",
	            "petrel.conf:2: [pools] @example.com: not a sender address, domain or "
	            "'default'");
}

static void test_pools_round_trip_and_a_later_text_replaces_one(void **state)
{
	struct config a, b;
	parse_ok(&a, "[pool.main]\naddresses = 192.0.2.10 mx1.example.com,192.0.2.11\n"
	             "max_connections = 7\n[pools]\ndefault = main\n");
	char *printed = print_of(&a);
	assert_non_null(strstr(printed, "\n[pool.main]\naddresses = 192.0.2.10 mx1.example.com, "
	                                "192.0.2.11\nehlo =\nmax_connections = 7\n"));
	assert_non_null(strstr(printed, "\n[pools]\ndefault = main\n"));
	struct buf err = BUF_INIT;
	config_defaults(&b);
	if (config_parse_text(&b, "printed", printed, strlen(printed), &err) != 0)
		fail_msg("%s", buf_cstr(&err));
	char *again = print_of(&b);
	assert_string_equal(printed, again);
	const char later[] = "[pool.main]\naddresses = 192.0.2.99\n";
	if (config_parse_text(&b, "later", later, strlen(later), &err) != 0)
		fail_msg("%s", buf_cstr(&err));
	assert_int_equal(b.npools, 1);
	assert_int_equal(b.pools[0].naddrs, 1);
	assert_string_equal(b.pools[0].addrs[0].ip, "192.0.2.99");
	assert_int_equal(b.pools[0].max_connections, 0);
	free(printed);
	free(again);
	config_free(&a);
	config_free(&b);
	buf_free(&err);
}

static void test_delay_warning_and_source_suspend_are_durations(void **state)
{
	struct config cfg;
	parse_ok(&cfg, "");
	assert_int_equal(cfg.queue_delay_warning, 4 * 3600);
	assert_int_equal(cfg.queue_source_suspend, 300);
	config_free(&cfg);
	value_gives("queue", "delay_warning", "0", NULL);
	value_gives("queue", "delay_warning", "31d", "must be 0s to 30d: '31d'");
	value_gives("queue", "source_suspend", "0", "must be 1s to 1d: '0'");
}

/* ---- files and the environment -------------------------------------------------- */

static void test_the_example_file_parses_to_the_defaults(void **state)
{
	struct config ex, def;
	struct buf err = BUF_INIT;
	config_defaults(&ex);
	if (config_load_file(&ex, "etc/petrel.conf", &err) != 0)
		fail_msg("%s", buf_cstr(&err));
	assert_string_equal(ex.source, "etc/petrel.conf");
	config_defaults(&def);
	char *pe = print_of(&ex), *pd = print_of(&def);
	/* the same but for the first line, which names the source */
	assert_string_equal(strchr(pe, '\n'), strchr(pd, '\n'));
	free(pe);
	free(pd);
	config_free(&ex);
	config_free(&def);
	buf_free(&err);
}

static void test_config_load_uses_the_path_then_PETREL_CONFIG_then_defaults(void **state)
{
	struct config cfg;
	struct buf err = BUF_INIT;
	char *env_file = write_temp_file("[smtp]\nmax_recipients = 11\n");
	char *arg_file = write_temp_file("[smtp]\nmax_recipients = 22\n");

	unsetenv("PETREL_CONFIG");
	assert_int_equal(config_load(&cfg, NULL, &err), 0);
	assert_string_equal(cfg.source, "(defaults)");
	assert_int_equal(cfg.max_recipients, 100);
	config_free(&cfg);

	setenv("PETREL_CONFIG", env_file, 1);
	assert_int_equal(config_load(&cfg, NULL, &err), 0);
	assert_string_equal(cfg.source, env_file);
	assert_int_equal(cfg.max_recipients, 11);
	config_free(&cfg);

	assert_int_equal(config_load(&cfg, arg_file, &err), 0);
	assert_string_equal(cfg.source, arg_file);
	assert_int_equal(cfg.max_recipients, 22);
	config_free(&cfg);

	setenv("PETREL_CONFIG", "", 1);
	assert_int_equal(config_load(&cfg, NULL, &err), 0);
	assert_string_equal(cfg.source, "(defaults)");
	config_free(&cfg);
	unsetenv("PETREL_CONFIG");
	assert_int_equal(err.len, 0);

	unlink(env_file);
	unlink(arg_file);
	free(env_file);
	free(arg_file);
	buf_free(&err);
}

static void test_config_load_names_the_file_in_errors(void **state)
{
	struct config cfg;
	struct buf err = BUF_INIT;
	char *path = write_temp_file("[smtp]\n\nmax_recipients = ten\n");
	assert_int_equal(config_load(&cfg, path, &err), -1);
	char *expected = xasprintf("%s:3: [smtp] max_recipients: not a number: 'ten'", path);
	assert_string_equal(buf_cstr(&err), expected);
	assert_string_equal(cfg.source, "(defaults)");
	free(expected);
	config_free(&cfg);
	unlink(path);
	free(path);

	buf_reset(&err);
	assert_int_equal(config_load(&cfg, "/nonexistent/petrel.conf", &err), -1);
	assert_string_equal(buf_cstr(&err),
	                    "/nonexistent/petrel.conf: cannot open: No such file or directory");
	config_free(&cfg);

	buf_reset(&err);
	assert_int_equal(config_load(&cfg, "/", &err), -1);
	assert_string_equal(buf_cstr(&err), "/: cannot read: Is a directory");
	config_free(&cfg);
	buf_free(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_defaults_are_sane),
	        cmocka_unit_test(test_default_paths_are_under_data_dir),
	        cmocka_unit_test(test_setting_data_dir_moves_the_paths_not_set_in_the_text),
	        cmocka_unit_test(test_a_later_text_keeps_paths_an_earlier_text_set),
	        cmocka_unit_test(test_empty_text_gives_the_defaults),
	        cmocka_unit_test(test_strings_are_stored_as_written),
	        cmocka_unit_test(test_bool_accepts_yes_no_true_false_on_off_1_0),
	        cmocka_unit_test(test_uint_accepts_decimal_numbers_in_range),
	        cmocka_unit_test(test_size_suffixes_are_powers_of_1024),
	        cmocka_unit_test(test_numbers_that_overflow_are_rejected),
	        cmocka_unit_test(test_duration_suffixes_are_seconds_minutes_hours_days),
	        cmocka_unit_test(test_enum_values_are_canonical),
	        cmocka_unit_test(test_postgresql_without_a_url_is_an_error),
	        cmocka_unit_test(test_hostname_must_be_a_dns_name),
	        cmocka_unit_test(test_user_data_dir_and_resolver_are_checked),
	        cmocka_unit_test(test_unknown_section_is_reported_at_its_line),
	        cmocka_unit_test(test_unknown_key_is_reported_at_its_line),
	        cmocka_unit_test(test_a_key_before_any_section_is_an_error),
	        cmocka_unit_test(test_duplicate_key_is_an_error),
	        cmocka_unit_test(test_syntax_errors_are_reported_at_their_line),
	        cmocka_unit_test(test_a_nul_byte_is_an_error_naming_its_line),
	        cmocka_unit_test(test_control_characters_are_rejected),
	        cmocka_unit_test(test_values_and_lines_have_a_length_limit),
	        cmocka_unit_test(test_a_value_cannot_start_with_a_semicolon),
	        cmocka_unit_test(test_indented_lines_are_lines_of_their_own),
	        cmocka_unit_test(test_comments_crlf_and_a_bom_are_accepted),
	        cmocka_unit_test(test_a_section_may_repeat_and_a_colon_may_separate),
	        cmocka_unit_test(test_a_failed_parse_leaves_the_config_unchanged),
	        cmocka_unit_test(test_an_empty_listener_switches_it_off),
	        cmocka_unit_test(test_listen_lists_parse_ipv4_ipv6_names_and_any),
	        cmocka_unit_test(test_bad_listen_items_are_rejected_with_a_reason),
	        cmocka_unit_test(test_a_listen_list_has_at_most_64_addresses),
	        cmocka_unit_test(test_a_bad_listener_in_a_file_names_its_line),
	        cmocka_unit_test(test_config_print_round_trips),
	        cmocka_unit_test(test_config_print_keeps_the_source_on_one_comment_line),
	        cmocka_unit_test(test_the_reference_lists_every_key),
	        cmocka_unit_test(test_docs_config_md_holds_the_current_reference),
	        cmocka_unit_test(test_queue_retry_is_a_list_of_durations),
	        cmocka_unit_test(test_routes_are_free_keys_kept_in_file_order),
	        cmocka_unit_test(test_bad_routes_are_reported_at_their_line),
	        cmocka_unit_test(test_a_route_reads_its_hops_and_policy),
	        cmocka_unit_test(test_routes_round_trip_and_a_later_text_replaces_them),
	        cmocka_unit_test(test_a_route_may_carry_smarthost_credentials),
	        cmocka_unit_test(test_an_auth_file_holds_user_and_password_on_its_first_line),
	        cmocka_unit_test(test_pools_are_sections_with_addresses_and_a_sender_map),
	        cmocka_unit_test(test_bad_pools_are_reported_at_their_line),
	        cmocka_unit_test(test_pools_round_trip_and_a_later_text_replaces_one),
	        cmocka_unit_test(test_delay_warning_and_source_suspend_are_durations),
	        cmocka_unit_test(test_the_example_file_parses_to_the_defaults),
	        cmocka_unit_test(test_config_load_uses_the_path_then_PETREL_CONFIG_then_defaults),
	        cmocka_unit_test(test_config_load_names_the_file_in_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
