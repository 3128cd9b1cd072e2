/*
 * cli_serve — `petrel serve`: the server process.
 *
 * Start-up order matters:
 *   1. configuration, logging, the data folder;
 *   2. TLS: a self-signed certificate is created in the data folder when the
 *      configuration names none (embedded defaults);
 *   3. every listener is bound (as root, if the ports need it);
 *   4. root is dropped for [server] user;
 *   5. the store is opened (so its files belong to that user), bootstrapped on
 *      the very first start (domain localhost, postmaster@localhost with a
 *      random password printed once), and its commit thread started;
 *   6. the loop runs until SIGTERM/SIGINT, which stops accepting, asks every
 *      session to finish, waits for them (at most DRAIN_SECONDS), lets the
 *      commit thread finish every queued write, and exits 0.
 * SIGHUP reloads the configuration file and the certificate: log level, limits
 * and TLS take effect at once; a listener address change needs a restart (it
 * is logged). A bad new configuration is logged and the old one kept.
 *
 * Protocols register their listeners in register_listeners().
 */
#include "cli/cli.h"

#include "auth/auth.h"
#include "core/net.h"
#include "core/work.h"
#include "http/http.h"
#include "imap/imap.h"
#include "pop3/pop3.h"
#include "queue/queue.h"
#include "smtp/smtp.h"
#include "store/store.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DRAIN_SECONDS 10

struct server {
	struct config cfg;
	const char *config_path;
	struct event_base *base;
	struct store *store;
	struct net *net;
	struct event *sig_term, *sig_int, *sig_hup, *drain_timer;
	struct auth_throttle *throttle;
	struct work_pool *workers; /* password checks and DKIM signatures off the loop */
	struct smtp_context smtp;
	struct smtp_service smtp_mx, smtp_submission, smtp_submissions;
	struct imap_context imap;
	struct imap_service imap_plain, imap_tls;
	struct pop3_context pop3;
	struct pop3_service pop3_plain, pop3_tls;
	struct http_context http;
	struct queue *queue;        /* outbound delivery, started after the store */
	struct smtp_client *client; /* its transport */
	struct http_webhooks *webhooks; /* event POSTs, started after the store */
	int64_t drain_deadline;
	bool draining;
};

static int register_listeners(struct server *s, struct buf *err)
{
	const struct config *cfg = &s->cfg;
	s->smtp = (struct smtp_context){.cfg = &s->cfg,
	                                .throttle = s->throttle,
	                                .workers = s->workers,
	                                .base = s->base,
	                                .tls_available = true};
	s->smtp_mx = (struct smtp_service){SMTP_MODE_MX, &s->smtp};
	s->smtp_submission = (struct smtp_service){SMTP_MODE_SUBMISSION, &s->smtp};
	s->smtp_submissions = (struct smtp_service){SMTP_MODE_SUBMISSIONS, &s->smtp};
	s->imap = (struct imap_context){
	        .cfg = &s->cfg, .throttle = s->throttle, .workers = s->workers, .base = s->base, .tls_available = true};
	s->imap_plain = (struct imap_service){false, &s->imap};
	s->imap_tls = (struct imap_service){true, &s->imap};
	s->pop3 = (struct pop3_context){.cfg = &s->cfg,
	                                .throttle = s->throttle,
	                                .workers = s->workers,
	                                .base = s->base,
	                                .tls_available = true};
	s->pop3_plain = (struct pop3_service){false, &s->pop3};
	s->pop3_tls = (struct pop3_service){true, &s->pop3};
	s->http = (struct http_context){
	        .cfg = &s->cfg, .base = s->base, .net = s->net, .workers = s->workers};
	const struct {
		const char *name;
		const char *value;
		bool tls;
		const struct conn_handler *h;
		void *arg;
	} table[] = {
	        {"smtp", cfg->smtp_listen, false, &smtp_conn_handler, &s->smtp_mx},
	        {"submission", cfg->smtp_submission, false, &smtp_conn_handler,
	         &s->smtp_submission},
	        {"submissions", cfg->smtp_submissions, true, &smtp_conn_handler,
	         &s->smtp_submissions},
	        {"imap", cfg->imap_listen, false, &imap_conn_handler, &s->imap_plain},
	        {"imaps", cfg->imap_listen_tls, true, &imap_conn_handler, &s->imap_tls},
	        {"pop3", cfg->pop3_listen, false, &pop3_conn_handler, &s->pop3_plain},
	        {"pop3s", cfg->pop3_listen_tls, true, &pop3_conn_handler, &s->pop3_tls},
	        {"http", cfg->http_listen, false, &http_conn_handler, &s->http},
	        {"https", cfg->http_listen_tls, true, &http_conn_handler, &s->http},
	};
	for (size_t i = 0; i < ARRAY_SIZE(table); i++)
		if (net_listen(s->net, table[i].name, table[i].value, table[i].tls, table[i].h,
		               table[i].arg, err) < 0)
			return -1;
	return 0;
}

/* ---- start-up helpers ---------------------------------------------------------------- */

static SSL_CTX *load_tls(const struct config *cfg, struct buf *err)
{
	/* The same join as the configuration's derived defaults: no doubled '/'. */
	size_t dl = strlen(cfg->data_dir);
	const char *sep = dl && cfg->data_dir[dl - 1] == '/' ? "" : "/";
	char *default_cert = xasprintf("%s%stls/cert.pem", cfg->data_dir, sep);
	char *default_key = xasprintf("%s%stls/key.pem", cfg->data_dir, sep);
	SSL_CTX *ctx = NULL;
	bool defaults =
	        strcmp(cfg->tls_cert, default_cert) == 0 && strcmp(cfg->tls_key, default_key) == 0;
	if (defaults && tls_selfsigned_ensure(cfg->tls_cert, cfg->tls_key, cfg->hostname, err) < 0)
		goto out;
	/* Our own certificate belongs to the user we run as, so SIGHUP can reload it. */
	if (defaults && cfg->user[0] && geteuid() == 0) {
		unsigned uid, gid;
		char *dir = xasprintf("%s%stls", cfg->data_dir, sep);
		int bad = proc_user_ids(cfg->user, &uid, &gid, err) < 0 ||
		          chown(dir, uid, gid) < 0 || chown(cfg->tls_cert, uid, gid) < 0 ||
		          chown(cfg->tls_key, uid, gid) < 0;
		if (bad && err->len == 0)
			buf_printf(err, "cannot give %s to user %s: %s", dir, cfg->user,
			           strerror(errno));
		free(dir);
		if (bad)
			goto out;
	}
	ctx = tls_ctx_new(cfg->tls_cert, cfg->tls_key, err);
out:
	free(default_cert);
	free(default_key);
	return ctx;
}

static void apply_limits(struct server *s)
{
	struct net_limits lim = {
	        .max_connections = (unsigned)s->cfg.max_connections,
	        .max_per_ip = (unsigned)s->cfg.max_connections_per_ip,
	        .rate_per_ip = (unsigned)s->cfg.connection_rate_per_ip,
	        .rate_exempt_loopback = true,
	        .timeout_s = (unsigned)s->cfg.idle_timeout,
	};
	net_set_limits(s->net, &lim);
}

static void apply_logging(const struct config *cfg)
{
	enum log_level lvl = LOG_LVL_INFO;
	log_level_parse(cfg->log_level, &lvl);
	log_init(lvl, cfg->log_syslog);
}

static void count_domain(const char *name, void *arg)
{
	(*(int *)arg)++;
}

/* First start: a domain and a postmaster, so a new user can log in at once. */
static int bootstrap(struct server *s, struct buf *err)
{
	int ndomains = 0;
	if (store_domain_list(s->store, count_domain, &ndomains, err) < 0)
		return -1;
	if (ndomains > 0)
		return 0;
	static const char alphabet[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	char password[21];
	unsigned char raw[20];
	random_bytes(raw, sizeof raw);
	for (size_t i = 0; i < sizeof raw; i++)
		password[i] = alphabet[raw[i] % (sizeof alphabet - 1)];
	password[20] = '\0';
	struct buf hash = BUF_INIT, scram = BUF_INIT;
	int r = -1;
	if (auth_password_hash(password, &hash, err) < 0 ||
	    auth_scram_make(password, &scram, err) < 0)
		goto out;
	struct store_op op;
	store_op_init(&op, STORE_OP_DOMAIN_ADD);
	op.u.domain.name = "localhost";
	if (store_exec(s->store, &op) < 0) {
		buf_printf(err, "cannot create domain localhost: %s", buf_cstr(&op.err));
		store_op_clear(&op);
		goto out;
	}
	store_op_clear(&op);
	store_op_init(&op, STORE_OP_ACCOUNT_ADD);
	op.u.account.address = "postmaster@localhost";
	op.u.account.password_hash = buf_cstr(&hash);
	op.u.account.scram = buf_cstr(&scram);
	if (store_exec(s->store, &op) < 0) {
		buf_printf(err, "cannot create postmaster@localhost: %s", buf_cstr(&op.err));
		store_op_clear(&op);
		goto out;
	}
	store_op_clear(&op);
	printf("created domain localhost and account postmaster@localhost\n"
	       "postmaster@localhost password: %s\n"
	       "(shown once; change it with: petrel user passwd postmaster@localhost)\n",
	       password);
	fflush(stdout);
	r = 0;
out:
	memset(password, 0, sizeof password);
	buf_free(&hash);
	buf_free(&scram);
	return r;
}

/* ---- signals --------------------------------------------------------------------------- */

static void drain_tick(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	if (net_connection_count(s->net) == 0 || time_mono_ms() >= s->drain_deadline) {
		log_info("server event=stopped connections_left=%zu", net_connection_count(s->net));
		event_base_loopexit(s->base, NULL);
	}
}

static void on_term(evutil_socket_t sig, short what, void *arg)
{
	struct server *s = arg;
	if (s->draining) {
		log_info("server event=stop-now");
		event_base_loopexit(s->base, NULL);
		return;
	}
	s->draining = true;
	log_info("server event=draining signal=%d connections=%zu", (int)sig,
	         net_connection_count(s->net));
	net_stop_listening(s->net);
	net_drain(s->net);
	if (s->queue)
		queue_stop(s->queue);
	http_webhooks_stop(s->webhooks);
	s->drain_deadline = time_mono_ms() + DRAIN_SECONDS * 1000;
	s->drain_timer = event_new(s->base, -1, EV_PERSIST, drain_tick, s);
	struct timeval tv = {0, 50 * 1000};
	event_add(s->drain_timer, &tv);
}

static bool same_str(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct server *s = arg;
	struct config neu;
	struct buf err = BUF_INIT;
	if (config_load(&neu, s->config_path, &err) < 0) {
		log_error("server event=reload result=error reason=\"%s\"", buf_cstr(&err));
		config_free(&neu);
		buf_free(&err);
		return;
	}
	SSL_CTX *ctx = load_tls(&neu, &err);
	if (!ctx) {
		log_error("server event=reload result=error reason=\"%s\"", buf_cstr(&err));
		config_free(&neu);
		buf_free(&err);
		return;
	}
	/* Listeners, the store and the user change only on restart: keep the
	   running values (swap them into `neu`, which is freed below). */
	char **restart_only[][2] = {
	        {&s->cfg.smtp_listen, &neu.smtp_listen},
	        {&s->cfg.smtp_submission, &neu.smtp_submission},
	        {&s->cfg.smtp_submissions, &neu.smtp_submissions},
	        {&s->cfg.imap_listen, &neu.imap_listen},
	        {&s->cfg.imap_listen_tls, &neu.imap_listen_tls},
	        {&s->cfg.pop3_listen, &neu.pop3_listen},
	        {&s->cfg.pop3_listen_tls, &neu.pop3_listen_tls},
	        {&s->cfg.http_listen, &neu.http_listen},
	        {&s->cfg.http_listen_tls, &neu.http_listen_tls},
	        {&s->cfg.store_backend, &neu.store_backend},
	        {&s->cfg.store_path, &neu.store_path},
	        {&s->cfg.store_url, &neu.store_url},
	        {&s->cfg.data_dir, &neu.data_dir},
	        {&s->cfg.user, &neu.user},
	};
	for (size_t i = 0; i < ARRAY_SIZE(restart_only); i++) {
		char **running = restart_only[i][0], **wanted = restart_only[i][1];
		if (!same_str(*running, *wanted))
			log_warn("server event=reload note=\"a listener, store or user setting "
			         "changed; it takes effect on restart\"");
		char *t = *running;
		*running = *wanted;
		*wanted = t;
	}
	net_set_tls(s->net, ctx);
	tls_ctx_free(&ctx); /* net holds its own reference */
	/* neu now has the running restart-only values and every new other value. */
	struct config old = s->cfg;
	s->cfg = neu;
	/* Reported under the log level in force when the reload was asked for. */
	log_info("server event=reload result=ok config=%s", s->cfg.source);
	apply_logging(&s->cfg);
	apply_limits(s);
	config_free(&old);
	buf_free(&err);
}

/* ---- main ------------------------------------------------------------------------------- */

int cli_serve(int argc, char **argv, const char *config_path)
{
	if (cli_wants_help(argc, argv) || argc != 0)
		return cli_usage("serve");
	struct server s = {.config_path = config_path};
	struct buf err = BUF_INIT;
	int r = 1;
	if (config_load(&s.cfg, config_path, &err) < 0) {
		cli_error("%s", buf_cstr(&err));
		config_free(&s.cfg);
		buf_free(&err);
		return 1;
	}
	/* If a file was named, remember it for SIGHUP even if it came from the
	   environment. */
	if (!s.config_path && strcmp(s.cfg.source, "(defaults)") != 0)
		s.config_path = s.cfg.source;
	apply_logging(&s.cfg);
	signal(SIGPIPE, SIG_IGN);

	if (cli_prepare_data_dir(&s.cfg, &err) < 0) {
		cli_error("%s", buf_cstr(&err));
		goto out;
	}
	SSL_CTX *ctx = load_tls(&s.cfg, &err);
	if (!ctx) {
		cli_error("%s", buf_cstr(&err));
		goto out;
	}
	if (evthread_use_pthreads() < 0) {
		cli_error("libevent has no thread support");
		tls_ctx_free(&ctx);
		goto out;
	}
	s.base = event_base_new();
	if (!s.base)
		panic("cannot create the event loop");
	struct net_limits lim = {0};
	s.net = net_new(s.base, &lim);
	apply_limits(&s);
	net_set_tls(s.net, ctx);
	tls_ctx_free(&ctx);
	s.throttle = auth_throttle_new((unsigned)s.cfg.login_failures_free,
	                               (unsigned)s.cfg.login_delay_max);
	s.workers = work_pool_new(s.base, 2);
	if (register_listeners(&s, &err) < 0) {
		cli_error("%s", buf_cstr(&err));
		goto out;
	}
	if (s.cfg.user[0] && geteuid() == 0) {
		if (proc_drop_privileges(s.cfg.user, &err) < 0) {
			cli_error("%s", buf_cstr(&err));
			goto out;
		}
		log_info("server event=dropped-privileges user=%s", s.cfg.user);
	} else if (geteuid() == 0) {
		log_warn("server event=running-as-root note=\"set [server] user to drop root\"");
	}
	if (store_open(&s.store, &s.cfg, &err) < 0 || bootstrap(&s, &err) < 0 ||
	    store_start(s.store, s.base, &err) < 0) {
		cli_error("%s", buf_cstr(&err));
		goto out;
	}
	s.smtp.store = s.store;
	s.imap.store = s.store;
	s.pop3.store = s.store;
	s.http.store = s.store;
	if (!(s.client = smtp_client_new(s.base, &s.cfg, &err)) ||
	    !(s.queue = queue_new(s.base, s.store, &s.cfg, &err))) {
		cli_error("%s", buf_cstr(&err));
		goto out;
	}
	queue_set_transport(s.queue, &smtp_client_transport, s.client);
	if (queue_start(s.queue, &err) < 0) {
		cli_error("%s", buf_cstr(&err));
		goto out;
	}
	if (!(s.webhooks = http_webhooks_new(s.base, s.store, &s.cfg, &err)) ||
	    http_webhooks_start(s.webhooks, &err) < 0) {
		cli_error("%s", buf_cstr(&err));
		goto out;
	}
	s.http.queue = s.queue;
	s.http.throttle = s.throttle;
	s.http.webhooks = s.webhooks;
	s.sig_term = evsignal_new(s.base, SIGTERM, on_term, &s);
	s.sig_int = evsignal_new(s.base, SIGINT, on_term, &s);
	s.sig_hup = evsignal_new(s.base, SIGHUP, on_hup, &s);
	event_add(s.sig_term, NULL);
	event_add(s.sig_int, NULL);
	event_add(s.sig_hup, NULL);
	log_info("server event=started version=" PETREL_VERSION " hostname=%s data_dir=%s "
	         "store=%s pid=%d",
	         s.cfg.hostname, s.cfg.data_dir, s.cfg.store_path, (int)getpid());
	printf("petrel " PETREL_VERSION " ready pid=%d\n", (int)getpid());
	fflush(stdout);

	event_base_dispatch(s.base);
	r = 0;
out:
	/* The timers and signals that reach the listeners go first: the loop
	   runs once more below, after the listeners are gone. */
	if (s.drain_timer)
		event_free(s.drain_timer);
	if (s.sig_term)
		event_free(s.sig_term);
	if (s.sig_int)
		event_free(s.sig_int);
	if (s.sig_hup)
		event_free(s.sig_hup);
	signal(SIGHUP, SIG_IGN); /* a reload may not run after net is freed */
	/* Sessions first (they may still hold store ops), then the store finishes
	   every queued write (outcomes of the queue included), then the loop. */
	if (s.queue)
		queue_stop(s.queue);
	http_webhooks_stop(s.webhooks);
	smtp_client_free(&s.client);
	net_free(&s.net);
	/* Jobs still running finish, and their completions free the sessions
	   that were waiting for them. */
	work_pool_free(&s.workers);
	if (s.base) /* run libevent's finalizers of the freed connections */
		event_base_loop(s.base, EVLOOP_NONBLOCK);
	store_close(&s.store);
	http_context_free(&s.http);
	queue_free(&s.queue);
	http_webhooks_free(&s.webhooks);
	auth_throttle_free(&s.throttle);
	if (s.base)
		event_base_free(s.base);
	config_free(&s.cfg);
	buf_free(&err);
	return r;
}
