/*
 * core — everything petrel needs that knows nothing about mail.
 *
 *  - memory:  x* allocators abort on out-of-memory (a bug-class failure we do not
 *             try to survive); panic() for broken invariants.
 *  - buf/str: the one growable byte buffer (struct buf) and the one read-only
 *             string view (struct str). Both carry a length; peer data is never
 *             assumed NUL-terminated. A buf never truncates silently.
 *  - log:     one line per event, "module id=... key=value" fields, levels, to
 *             stderr and optionally syslog. Never pass a password or a body.
 *  - codec:   base64 and hex (pure).
 *  - time/id: monotonic and wall clocks, random ids.
 *  - config:  the one configuration table (config.c), loaded with inih.
 *  - net:     listeners and connections over libevent bufferevents, with limits,
 *             timeouts, implicit TLS and the STARTTLS upgrade (net.c, tls.c).
 *
 * Errors: functions that can fail for environmental reasons return -1 and write a
 * one-line reason into a caller-supplied struct buf *err (appended, no newline).
 */
#ifndef PETREL_CORE_H
#define PETREL_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PETREL_VERSION "0.1.0"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))

/* ---- memory ------------------------------------------------------------ */

_Noreturn void panic(const char *fmt, ...) PRINTF_LIKE(1, 2);
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* Frees *p and sets it to NULL. */
void xfree(void *pp);

/* ---- buf: growable bytes ------------------------------------------------ */

struct buf {
	char *data; /* NULL until the first append; always NUL-terminated after */
	size_t len;
	size_t cap;
};
#define BUF_INIT                                                                                   \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

void buf_init(struct buf *b);
void buf_free(struct buf *b);
void buf_reset(struct buf *b); /* len = 0, keeps the memory */
void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) PRINTF_LIKE(2, 3);
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Removes n bytes from the front. */
void buf_consume(struct buf *b, size_t n);
void buf_truncate(struct buf *b, size_t len);
/* Always a valid C string ("" for an empty buffer). */
const char *buf_cstr(const struct buf *b);
/* Hands the memory to the caller (never NULL), leaves b empty. */
char *buf_steal(struct buf *b);

/* ---- str: a read-only view ---------------------------------------------- */

struct str {
	const char *p;
	size_t len;
};
#define STR_LIT(s) ((struct str){(s), sizeof(s) - 1})

struct str str_c(const char *s);
struct str str_buf(const struct buf *b);
bool str_eq(struct str a, struct str b);
bool str_eq_nocase(struct str a, struct str b);
bool str_eq_cstr_nocase(struct str a, const char *b);
bool str_has_prefix_nocase(struct str s, const char *prefix);
struct str str_trim(struct str s);
/* Parses a whole decimal number with no sign; false on any junk or overflow. */
bool str_to_u64(struct str s, uint64_t *v_r);
char *str_dup(struct str s);
/* ASCII lower-casing into a new string. */
char *str_dup_lower(struct str s);

/*
 * Decodes the UTF-8 sequence at s (n bytes left) per RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF. Returns its length (1 for
 * ASCII) with the code point in *cp_r, or 0 when it is not valid UTF-8.
 */
size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp_r);
/* True when all len bytes are valid UTF-8. */
bool utf8_valid(const char *s, size_t len);

/* ---- codecs -------------------------------------------------------------- */

void base64_encode(struct buf *out, const void *data, size_t len);
/* Strict RFC 4648 decoding (padding required, no whitespace); -1 on bad input. */
int base64_decode(struct buf *out, const char *in, size_t len);
void hex_encode(struct buf *out, const void *data, size_t len);

/* ---- time and ids -------------------------------------------------------- */

int64_t time_now_ms(void);  /* wall clock, ms since the epoch */
int64_t time_mono_ms(void); /* monotonic clock */
/* Fills with cryptographically strong random bytes (getrandom); panics if it can't. */
void random_bytes(void *p, size_t n);
uint64_t random_u64(void);
/* A fresh hex id of 2*nbytes characters into out (size >= 2*nbytes+1). */
void random_id(char *out, size_t nbytes);

/* ---- log ------------------------------------------------------------------ */

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };

/* level: "debug", "info", "warn", "error"; returns -1 for an unknown name. */
int log_level_parse(const char *name, enum log_level *lvl_r);
void log_init(enum log_level min, bool use_syslog);
void log_msg(enum log_level lvl, const char *fmt, ...) PRINTF_LIKE(2, 3);
bool log_enabled(enum log_level lvl);
#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (log_enabled(LOG_LVL_DEBUG))                                                    \
			log_msg(LOG_LVL_DEBUG, __VA_ARGS__);                                       \
	} while (0)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
/*
 * Appends s to out as a log value: bare if it is made of safe characters,
 * otherwise in double quotes with \" \\ and non-printable bytes escaped (\xNN),
 * cut at 200 bytes with "..." — so a peer cannot forge log lines.
 */
void log_value(struct buf *out, const char *s, size_t len);

/* ---- process ----------------------------------------------------------------- */

/* When running as root and user is non-empty, switch to that user for good. */
int proc_drop_privileges(const char *user, struct buf *err);
int proc_user_ids(const char *user, unsigned *uid_r, unsigned *gid_r, struct buf *err);

#endif
