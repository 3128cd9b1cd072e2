/*
 * store_writer — appends deterministic messages to a store as fast as it will take
 * them, recording every acknowledged message. Used by the crash test
 * (tests/integration/test_crash.py) and the benchmark (bench/store_append).
 *
 *   store_writer --store PATH --writers N --size BYTES [--count M] [--seconds S]
 *                [--mode group|single|fsync-file] [--acks FILE] [--seq-start K]
 *
 * It opens the store, makes sure domain bench.test and account w@bench.test
 * exist, and runs N writers. Writer W's K-th message is a pure function of
 * (W, K): "Message-ID: <writerW.seqK@bench.test>" and a body of pseudo-random
 * printable text seeded from (W, K), CRLF line ends, BYTES long in all.
 *
 * Modes:
 *   group       the server's path: store_start + store_submit on one libevent
 *               loop; each writer keeps exactly one append in flight and submits
 *               its next one from the completion (group commit).
 *   single      the "one fsync per message" reference: no commit thread, every
 *               append is its own transaction (store_exec), one after another.
 *   fsync-file  the Maildir-style reference: every message goes to its own file
 *               in PATH.files/ with write + fsync(file) + fsync(dir); N threads
 *               deliver concurrently, as N delivery processes would.
 *
 * After each durable completion, "W K UID SHA256HEX\n" is written to the acks
 * file with one write(2) (the kernel has it before the next submit, so a kill
 * -9 cannot lose it; the file itself is deliberately not fsync'd: it records
 * what a client was told, and must not slow the store down). fsync-file acks
 * carry UID 0.
 *
 * Stops after --count messages in all or after --seconds (default 10 when
 * neither is given), then prints one line:
 *   mode=group writers=32 size=4096 messages=N seconds=S rate=R/s
 * Exit status 1 if any write failed.
 */
#include "core/core.h"

#include "store/store.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOOL_NAME "store_writer"
#include "tool_args.h"

enum mode { MODE_GROUP, MODE_SINGLE, MODE_FSYNC_FILE };

static const char *const mode_names[] = {"group", "single", "fsync-file"};

struct writer;

struct run {
	enum mode mode;
	struct store *st;
	struct event_base *base;
	int64_t mailbox_id;
	unsigned nwriters;
	size_t size;
	uint64_t count;  /* 0 = no limit */
	int64_t seconds; /* 0 = no limit */
	uint64_t seq_start;
	int acks_fd; /* -1 = none */
	char *files_dir;
	int files_dir_fd;

	int64_t start_ms, deadline_ms;
	pthread_mutex_t lock; /* fsync-file threads */
	uint64_t started;     /* messages handed out */
	uint64_t done;        /* messages acknowledged */
	uint64_t failed;
	unsigned active; /* writers with a message in flight (group) */

	struct writer *writers;
	struct event *single_ev; /* drives mode single */
	unsigned single_next;    /* the writer whose turn it is (single) */
};

struct writer {
	struct run *run;
	unsigned w;
	uint64_t k; /* the sequence number of the message in hand */
	struct buf msg;
	struct store_op op;
	struct store_append_target target;
	pthread_t thread;
};

/* ---- messages ------------------------------------------------------------------ */

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

#define LINE_LEN 78 /* 76 characters and CRLF */

/* Writer w's k-th message, exactly size bytes (or just its header if size is
   smaller than that). */
static void message_make(struct buf *out, unsigned w, uint64_t k, size_t size)
{
	buf_reset(out);
	buf_printf(out,
	           "Message-ID: <writer%u.seq%llu@bench.test>\r\n"
	           "From: <w@bench.test>\r\n"
	           "To: <w@bench.test>\r\n"
	           "Subject: store_writer %u %llu\r\n"
	           "MIME-Version: 1.0\r\n"
	           "Content-Type: text/plain; charset=us-ascii\r\n"
	           "\r\n",
	           w, (unsigned long long)k, w, (unsigned long long)k);
	if (size < out->len + 3)
		return;
	size_t rem = size - out->len;
	buf_reserve(out, rem);
	char *body = out->data + out->len;
	uint64_t seed = ((uint64_t)w << 40) ^ k ^ UINT64_C(0x50455452454c); /* "PETREL" */
	/* Eight printable characters (' ' to '~') per random word, then the line
	   ends over them: cheap enough not to slow the writers down. */
	for (size_t i = 0; i < rem; i += 8) {
		uint64_t r = splitmix64(&seed);
		for (size_t j = 0; j < 8 && i + j < rem; j++, r >>= 8)
			body[i + j] = (char)(' ' + (((r & 0xff) * 95) >> 8));
	}
	for (size_t i = LINE_LEN - 2; i + 1 < rem; i += LINE_LEN) {
		body[i] = '\r';
		body[i + 1] = '\n';
	}
	if (body[rem - 3] == '\r')
		body[rem - 3] = 'x';
	body[rem - 2] = '\r';
	body[rem - 1] = '\n';
	out->len += rem;
	out->data[out->len] = '\0';
}

/* ---- acknowledgements ------------------------------------------------------------ */

static void ack(struct run *run, unsigned w, uint64_t k, uint32_t uid, const struct buf *msg)
{
	if (run->acks_fd < 0)
		return;
	unsigned char sha[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)msg->data, msg->len, sha);
	struct buf line = BUF_INIT;
	buf_printf(&line, "%u %llu %u ", w, (unsigned long long)k, uid);
	hex_encode(&line, sha, sizeof sha);
	buf_putc(&line, '\n');
	/* One write(2) of a short line to an O_APPEND file: in the kernel before
	   we go on, and never interleaved with another writer's line. */
	ssize_t n = write(run->acks_fd, line.data, line.len);
	if (n != (ssize_t)line.len)
		panic("store_writer: cannot write the acks file: %s",
		      n < 0 ? strerror(errno) : "short write");
	buf_free(&line);
}

/* Hands out the next message to writer wr; false when the run is over. */
static bool next_message(struct writer *wr)
{
	struct run *run = wr->run;
	bool go;
	pthread_mutex_lock(&run->lock);
	go = (run->count == 0 || run->started < run->count) &&
	     (run->seconds == 0 || time_mono_ms() < run->deadline_ms);
	if (go)
		run->started++;
	pthread_mutex_unlock(&run->lock);
	if (!go)
		return false;
	wr->k++;
	message_make(&wr->msg, wr->w, wr->k, run->size);
	return true;
}

/* ---- mode group ------------------------------------------------------------------ */

static void prepare_append(struct writer *wr)
{
	store_op_clear(&wr->op);
	store_op_init(&wr->op, STORE_OP_APPEND);
	memset(&wr->target, 0, sizeof wr->target);
	wr->target.mailbox_id = wr->run->mailbox_id;
	wr->op.u.append.data = wr->msg.data;
	wr->op.u.append.len = wr->msg.len;
	wr->op.u.append.targets = &wr->target;
	wr->op.u.append.ntargets = 1;
}

/* Returns false when the append failed (reported on stderr). */
static bool append_finished(struct writer *wr)
{
	struct run *run = wr->run;
	if (wr->op.result < 0) {
		fprintf(stderr, "store_writer: writer %u message %llu: %s\n", wr->w,
		        (unsigned long long)wr->k, buf_cstr(&wr->op.err));
		run->failed++;
		return false;
	}
	ack(run, wr->w, wr->k, wr->target.uid_r, &wr->msg);
	run->done++;
	return true;
}

static void group_done(struct store_op *op, void *arg)
{
	struct writer *wr = arg;
	struct run *run = wr->run;
	if (append_finished(wr) && next_message(wr)) {
		prepare_append(wr);
		store_submit(run->st, &wr->op, group_done, wr);
		return;
	}
	if (--run->active == 0)
		event_base_loopbreak(run->base);
}

static int run_group(struct run *run)
{
	struct buf err = BUF_INIT;
	if (store_start(run->st, run->base, &err) < 0) {
		fprintf(stderr, "store_writer: %s\n", buf_cstr(&err));
		buf_free(&err);
		return -1;
	}
	for (unsigned i = 0; i < run->nwriters; i++) {
		struct writer *wr = &run->writers[i];
		if (!next_message(wr))
			break;
		prepare_append(wr);
		run->active++;
		store_submit(run->st, &wr->op, group_done, wr);
	}
	/* The completion event is only ever activated, never added: keep the loop
	   running until the last writer is done. */
	if (run->active > 0)
		event_base_loop(run->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return 0;
}

/* ---- mode single ------------------------------------------------------------------ */

/* One append per loop iteration, each in its own durable transaction. */
static void single_step(evutil_socket_t fd, short what, void *arg)
{
	struct run *run = arg;
	struct writer *wr = &run->writers[run->single_next];
	run->single_next = (run->single_next + 1) % run->nwriters;
	if (!next_message(wr))
		return; /* nothing left active: the loop ends */
	prepare_append(wr);
	store_exec(run->st, &wr->op);
	if (!append_finished(wr))
		return;
	event_active(run->single_ev, EV_TIMEOUT, 0);
}

static int run_single(struct run *run)
{
	run->single_ev = event_new(run->base, -1, 0, single_step, run);
	if (!run->single_ev) {
		fprintf(stderr, "store_writer: cannot create an event\n");
		return -1;
	}
	event_active(run->single_ev, EV_TIMEOUT, 0);
	event_base_dispatch(run->base);
	event_free(run->single_ev);
	return 0;
}

/* ---- mode fsync-file --------------------------------------------------------------- */

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static void *file_writer(void *arg)
{
	struct writer *wr = arg;
	struct run *run = wr->run;
	while (next_message(wr)) {
		char *path = xasprintf("%s/w%u.k%llu.eml", run->files_dir, wr->w,
		                       (unsigned long long)wr->k);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
		bool ok =
		        fd >= 0 && write_all(fd, wr->msg.data, wr->msg.len) == 0 && fsync(fd) == 0;
		if (fd >= 0 && close(fd) < 0)
			ok = false;
		if (ok && fsync(run->files_dir_fd) < 0)
			ok = false;
		if (!ok)
			fprintf(stderr, "store_writer: %s: %s\n", path, strerror(errno));
		free(path);
		pthread_mutex_lock(&run->lock);
		if (ok) {
			ack(run, wr->w, wr->k, 0, &wr->msg);
			run->done++;
		} else {
			run->failed++;
		}
		pthread_mutex_unlock(&run->lock);
		if (!ok)
			break;
	}
	return NULL;
}

static int run_fsync_file(struct run *run, const char *store_path)
{
	run->files_dir = xasprintf("%s.files", store_path);
	if (mkdir(run->files_dir, 0750) < 0 && errno != EEXIST) {
		fprintf(stderr, "store_writer: %s: %s\n", run->files_dir, strerror(errno));
		return -1;
	}
	run->files_dir_fd = open(run->files_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (run->files_dir_fd < 0) {
		fprintf(stderr, "store_writer: %s: %s\n", run->files_dir, strerror(errno));
		return -1;
	}
	unsigned started = 0;
	for (; started < run->nwriters; started++) {
		int e = pthread_create(&run->writers[started].thread, NULL, file_writer,
		                       &run->writers[started]);
		if (e != 0) {
			fprintf(stderr, "store_writer: cannot start a thread: %s\n", strerror(e));
			break;
		}
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(run->writers[i].thread, NULL);
	close(run->files_dir_fd);
	return started == run->nwriters ? 0 : -1;
}

/* ---- set-up ------------------------------------------------------------------------ */

/* Runs op, accepting "already exists". */
static int ensure(struct store *st, struct store_op *op)
{
	int r = store_exec(st, op);
	if (r < 0 && op->error != STORE_ERR_EXISTS) {
		fprintf(stderr, "store_writer: %s\n", buf_cstr(&op->err));
		store_op_clear(op);
		return -1;
	}
	store_op_clear(op);
	return 0;
}

static int setup_store(struct run *run)
{
	struct store_op op;
	store_op_init(&op, STORE_OP_DOMAIN_ADD);
	op.u.domain.name = "bench.test";
	if (ensure(run->st, &op) < 0)
		return -1;
	store_op_init(&op, STORE_OP_ACCOUNT_ADD);
	op.u.account.address = "w@bench.test";
	if (ensure(run->st, &op) < 0)
		return -1;

	struct buf err = BUF_INIT;
	struct store_account a = {0};
	struct store_mailbox m = {0};
	int r = -1;
	if (store_account_get(run->st, "w@bench.test", &a, &err) != STORE_FOUND) {
		fprintf(stderr, "store_writer: cannot read account w@bench.test %s\n",
		        buf_cstr(&err));
		goto out;
	}
	if (store_mailbox_get(run->st, a.id, "INBOX", &m, &err) != STORE_FOUND) {
		fprintf(stderr, "store_writer: cannot read INBOX %s\n", buf_cstr(&err));
		goto out;
	}
	run->mailbox_id = m.id;
	r = 0;
out:
	store_account_clear(&a);
	store_mailbox_clear(&m);
	buf_free(&err);
	return r;
}

/* ---- main -------------------------------------------------------------------------- */

static _Noreturn void usage(void)
{
	fprintf(stderr, "usage: store_writer --store PATH --writers N --size BYTES [--count M]\n"
	                "                    [--seconds S] [--mode group|single|fsync-file]\n"
	                "                    [--acks FILE] [--seq-start K]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct run run = {.nwriters = 1, .size = 4096, .acks_fd = -1, .files_dir_fd = -1};
	const char *store_path = NULL, *acks_path = NULL;
	for (int i = 1; i < argc; i += 2) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(o, "--store") == 0 && v)
			store_path = v;
		else if (strcmp(o, "--writers") == 0)
			run.nwriters = (unsigned)tool_number(o, v, 1, 10000);
		else if (strcmp(o, "--size") == 0)
			run.size = (size_t)tool_number(o, v, 1, 256u << 20);
		else if (strcmp(o, "--count") == 0)
			run.count = tool_number(o, v, 1, UINT64_MAX);
		else if (strcmp(o, "--seconds") == 0)
			run.seconds = (int64_t)tool_number(o, v, 1, 86400);
		else if (strcmp(o, "--seq-start") == 0)
			run.seq_start = tool_number(o, v, 0, UINT64_MAX / 2);
		else if (strcmp(o, "--acks") == 0 && v)
			acks_path = v;
		else if (strcmp(o, "--mode") == 0 && v) {
			if (strcmp(v, "group") == 0)
				run.mode = MODE_GROUP;
			else if (strcmp(v, "single") == 0)
				run.mode = MODE_SINGLE;
			else if (strcmp(v, "fsync-file") == 0)
				run.mode = MODE_FSYNC_FILE;
			else
				usage();
		} else
			usage();
	}
	if (!store_path)
		usage();
	if (run.count == 0 && run.seconds == 0)
		run.seconds = 10;

	if (acks_path) {
		run.acks_fd = open(acks_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
		if (run.acks_fd < 0) {
			fprintf(stderr, "store_writer: %s: %s\n", acks_path, strerror(errno));
			return 1;
		}
	}
	pthread_mutex_init(&run.lock, NULL);
	run.writers = xcalloc(run.nwriters, sizeof *run.writers);
	for (unsigned i = 0; i < run.nwriters; i++) {
		run.writers[i].run = &run;
		run.writers[i].w = i;
		run.writers[i].k = run.seq_start;
		store_op_init(&run.writers[i].op, STORE_OP_APPEND);
	}

	int r = -1;
	struct buf err = BUF_INIT;
	if (evthread_use_pthreads() < 0 || !(run.base = event_base_new())) {
		fprintf(stderr, "store_writer: cannot set up the event loop\n");
		goto out;
	}
	if (run.mode != MODE_FSYNC_FILE) {
		if (store_open_path(&run.st, store_path, &err) < 0) {
			fprintf(stderr, "store_writer: %s\n", buf_cstr(&err));
			goto out;
		}
		if (setup_store(&run) < 0)
			goto out;
	}

	run.start_ms = time_mono_ms();
	run.deadline_ms = run.start_ms + run.seconds * 1000;
	switch (run.mode) {
	case MODE_GROUP:
		r = run_group(&run);
		break;
	case MODE_SINGLE:
		r = run_single(&run);
		break;
	case MODE_FSYNC_FILE:
		r = run_fsync_file(&run, store_path);
		break;
	}
	double secs = (double)(time_mono_ms() - run.start_ms) / 1000.0;
	if (r == 0) {
		printf("mode=%s writers=%u size=%zu messages=%llu seconds=%.2f rate=%.1f/s\n",
		       mode_names[run.mode], run.nwriters, run.size, (unsigned long long)run.done,
		       secs, secs > 0 ? (double)run.done / secs : 0.0);
		fflush(stdout);
	}
out:
	store_close(&run.st); /* finishes anything still queued */
	if (run.base)
		event_base_free(run.base);
	for (unsigned i = 0; i < run.nwriters; i++) {
		store_op_clear(&run.writers[i].op);
		buf_free(&run.writers[i].msg);
	}
	free(run.writers);
	free(run.files_dir);
	buf_free(&err);
	pthread_mutex_destroy(&run.lock);
	if (run.acks_fd >= 0)
		close(run.acks_fd);
	return r == 0 && run.failed == 0 ? 0 : 1;
}
