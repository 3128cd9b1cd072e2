/*
 * log — one line per event: "2026-11-27T12:00:00.123Z info smtp id=4f2a ...".
 *
 * Lines go to stderr (timestamped) and, when enabled, to syslog (mail facility,
 * without our timestamp). A line is formatted in full and written with one
 * write(2) so lines from the commit thread and the loop never interleave.
 */
#include "core/core.h"

#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static enum log_level log_min = LOG_LVL_INFO;
static bool log_syslog;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int log_level_parse(const char *name, enum log_level *lvl_r)
{
	for (size_t i = 0; i < ARRAY_SIZE(level_names); i++)
		if (strcmp(name, level_names[i]) == 0) {
			*lvl_r = (enum log_level)i;
			return 0;
		}
	return -1;
}

void log_init(enum log_level min, bool use_syslog)
{
	log_min = min;
	if (use_syslog && !log_syslog)
		openlog("petrel", LOG_PID | LOG_NDELAY, LOG_MAIL);
	else if (!use_syslog && log_syslog)
		closelog();
	log_syslog = use_syslog;
}

bool log_enabled(enum log_level lvl)
{
	return lvl >= log_min;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	if (lvl < log_min)
		return;
	struct buf line = BUF_INIT;
	int64_t now = time_now_ms();
	time_t secs = (time_t)(now / 1000);
	struct tm tm;
	gmtime_r(&secs, &tm);
	buf_printf(&line, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s ", tm.tm_year + 1900,
		   tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		   (int)(now % 1000), level_names[lvl]);
	size_t body = line.len;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&line, fmt, ap);
	va_end(ap);
	if (log_syslog) {
		static const int prio[] = {LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR};
		syslog(prio[lvl], "%s", line.data + body);
	}
	buf_putc(&line, '\n');
	size_t off = 0;
	while (off < line.len) {
		ssize_t w = write(STDERR_FILENO, line.data + off, line.len - off);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	buf_free(&line);
}

static bool log_safe_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("-_.:/@+[]<>,=", c) != NULL;
}

void log_value(struct buf *out, const char *s, size_t len)
{
	const size_t max = 200;
	bool bare = len > 0 && len <= max;
	for (size_t i = 0; bare && i < len; i++)
		bare = s[i] != '\0' && log_safe_char((unsigned char)s[i]);
	if (bare) {
		buf_append(out, s, len);
		return;
	}
	buf_putc(out, '"');
	for (size_t i = 0; i < len && i < max; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			buf_printf(out, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			buf_printf(out, "\\x%02x", c);
		else
			buf_putc(out, (char)c);
	}
	if (len > max)
		buf_puts(out, "...");
	buf_putc(out, '"');
}
