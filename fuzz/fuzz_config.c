// fuzz-sources: src/core/config.c src/core/mem.c src/core/buf.c src/core/str.c
// fuzz-libs: -linih
/*
 * fuzz_config — the configuration parser over arbitrary bytes.
 *
 * Each input is parsed over the defaults; when it is accepted, config_print's
 * output must parse again and print the same (the round trip check-config relies
 * on). A rejected input must leave an error naming the file. The same bytes are
 * also tried as a listener list. Any crash, leak or sanitizer report is a bug.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_round_trip(const struct config *cfg)
{
	struct buf printed = BUF_INIT, again = BUF_INIT, err = BUF_INIT;
	struct config back;

	config_print(cfg, &printed);
	config_defaults(&back);
	if (config_parse_text(&back, "printed", printed.data, printed.len, &err) != 0) {
		fprintf(stderr, "printed config does not parse: %s\n%s\n", buf_cstr(&err),
		        buf_cstr(&printed));
		abort();
	}
	config_print(&back, &again);
	if (printed.len != again.len || memcmp(printed.data, again.data, printed.len) != 0) {
		fprintf(stderr, "round trip differs:\n%s\n---\n%s\n", buf_cstr(&printed),
		        buf_cstr(&again));
		abort();
	}
	config_free(&back);
	buf_free(&printed);
	buf_free(&again);
	buf_free(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	struct buf err = BUF_INIT;

	config_defaults(&cfg);
	if (config_parse_text(&cfg, "fuzz.conf", (const char *)data, size, &err) == 0) {
		if (err.len != 0)
			abort();
		check_round_trip(&cfg);
	} else if (strncmp(buf_cstr(&err), "fuzz.conf:", 10) != 0 || strchr(err.data, '\n')) {
		fprintf(stderr, "bad error message: %s\n", buf_cstr(&err));
		abort();
	}
	config_free(&cfg);
	buf_free(&err);

	/* the same bytes as one listener value (up to the first NUL) */
	char *value = xstrndup((const char *)data, size);
	struct listen_addr *addrs;
	size_t n;
	if (config_parse_listen(value, &addrs, &n, &err) == 0) {
		for (size_t i = 0; i < n; i++)
			if (!addrs[i].host[0] || addrs[i].port < 1 || addrs[i].port > 65535)
				abort();
		config_listen_free(&addrs, n);
	} else if (addrs != NULL || n != 0 || err.len == 0) {
		abort();
	}
	free(value);
	buf_free(&err);
	return 0;
}
