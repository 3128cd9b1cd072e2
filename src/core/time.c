/*
 * time — clocks, and randomness for ids and nonces (getrandom(2)).
 */
#include "core/core.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

int64_t time_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t time_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void random_bytes(void *p, size_t n)
{
	unsigned char *q = p;
	while (n > 0) {
		ssize_t r = getrandom(q, n, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			panic("getrandom: %s", strerror(errno));
		}
		q += r;
		n -= (size_t)r;
	}
}

uint64_t random_u64(void)
{
	uint64_t v;
	random_bytes(&v, sizeof v);
	return v;
}

void random_id(char *out, size_t nbytes)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char raw[32];
	if (nbytes > sizeof raw)
		panic("random_id: %zu bytes is too long", nbytes);
	random_bytes(raw, nbytes);
	for (size_t i = 0; i < nbytes; i++) {
		out[2 * i] = digits[raw[i] >> 4];
		out[2 * i + 1] = digits[raw[i] & 15];
	}
	out[2 * nbytes] = '\0';
}
