/*
 * cli_common — what every subcommand shares: errors, usage, opening the store,
 * reading a password.
 */
#include "cli/cli.h"

#include "auth/auth.h"
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

int cli_error(const char *fmt, ...)
{
	va_list ap;
	fputs("petrel: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

int cli_usage(const char *cmd)
{
	for (size_t i = 0; i < cli_ncommands; i++)
		if (strcmp(cli_commands[i].name, cmd) == 0) {
			fprintf(stderr, "%s", cli_commands[i].usage);
			return 2;
		}
	return 2;
}

bool cli_wants_help(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	return false;
}

static int mkdir_p(const char *path, struct buf *err)
{
	char *dir = xstrdup(path);
	int r = 0;
	for (char *p = dir + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char save = *p;
		*p = '\0';
		if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
			buf_printf(err, "cannot create %s: %s", dir, strerror(errno));
			r = -1;
		}
		*p = save;
		if (save == '\0' || r < 0)
			break;
	}
	free(dir);
	return r;
}

int cli_prepare_data_dir(const struct config *cfg, struct buf *err)
{
	if (mkdir_p(cfg->data_dir, err) < 0)
		return -1;
	if (cfg->user[0] && geteuid() == 0) {
		unsigned uid, gid;
		if (proc_user_ids(cfg->user, &uid, &gid, err) < 0)
			return -1;
		if (chown(cfg->data_dir, uid, gid) < 0) {
			buf_printf(err, "cannot give %s to user %s: %s", cfg->data_dir, cfg->user,
				   strerror(errno));
			return -1;
		}
	}
	return 0;
}

int cli_open(const char *config_path, struct config *cfg, struct store **st_r)
{
	struct buf err = BUF_INIT;
	if (config_load(cfg, config_path, &err) < 0 || cli_prepare_data_dir(cfg, &err) < 0) {
		cli_error("%s", buf_cstr(&err));
		buf_free(&err);
		config_free(cfg);
		return -1;
	}
	/* As root with [server] user set, act as that user, so that files the store
	   creates (the SQLite WAL and shared-memory files) stay usable by the server. */
	if (cfg->user[0] && proc_drop_privileges(cfg->user, &err) < 0) {
		cli_error("%s", buf_cstr(&err));
		buf_free(&err);
		config_free(cfg);
		return -1;
	}
	if (store_open(st_r, cfg, &err) < 0) {
		cli_error("%s", buf_cstr(&err));
		buf_free(&err);
		config_free(cfg);
		return -1;
	}
	buf_free(&err);
	return 0;
}

void cli_close(struct config *cfg, struct store **st)
{
	store_close(st);
	config_free(cfg);
}

int cli_parse_size(const char *s, uint64_t *v_r)
{
	if (strcmp(s, "none") == 0 || strcmp(s, "unlimited") == 0) {
		*v_r = 0;
		return 0;
	}
	size_t n = strlen(s);
	uint64_t mult = 1;
	if (n > 0) {
		switch (s[n - 1]) {
		case 'K': case 'k': mult = 1024ull; n--; break;
		case 'M': case 'm': mult = 1024ull * 1024; n--; break;
		case 'G': case 'g': mult = 1024ull * 1024 * 1024; n--; break;
		case 'T': case 't': mult = 1024ull * 1024 * 1024 * 1024; n--; break;
		default: break;
		}
	}
	uint64_t v;
	if (!str_to_u64((struct str){s, n}, &v) || v > UINT64_MAX / mult || v * mult > INT64_MAX)
		return -1;
	*v_r = v * mult;
	return 0;
}

static int read_line(FILE *f, struct buf *out)
{
	int ch;
	while ((ch = fgetc(f)) != EOF && ch != '\n') {
		if (out->len > AUTH_MAX_PASSWORD) /* keep reading is pointless: reject */
			return -1;
		buf_putc(out, (char)ch);
	}
	if (out->len && out->data[out->len - 1] == '\r')
		buf_truncate(out, out->len - 1);
	return ch == EOF && out->len == 0 ? -1 : 0;
}

static int prompt_password(const char *prompt, struct buf *out)
{
	FILE *tty = fopen("/dev/tty", "r+");
	if (!tty)
		return -1;
	struct termios old, quiet;
	int fd = fileno(tty);
	tcgetattr(fd, &old);
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	fputs(prompt, tty);
	fflush(tty);
	tcsetattr(fd, TCSAFLUSH, &quiet);
	int r = read_line(tty, out);
	tcsetattr(fd, TCSAFLUSH, &old);
	fputc('\n', tty);
	fclose(tty);
	return r;
}

int cli_read_password(bool from_stdin, struct buf *out)
{
	struct buf err = BUF_INIT;
	if (from_stdin) {
		if (read_line(stdin, out) < 0) {
			{
			cli_error("no password on standard input");
			return -1;
		}
		}
	} else {
		if (!isatty(STDIN_FILENO))
			{
			cli_error("no terminal to ask for a password: use --password-stdin");
			return -1;
		}
		struct buf again = BUF_INIT;
		if (prompt_password("New password: ", out) < 0 ||
		    prompt_password("Repeat password: ", &again) < 0) {
			buf_free(&again);
			{
			cli_error("cannot read the password");
			return -1;
		}
		}
		bool same = again.len == out->len && memcmp(again.data, out->data, out->len) == 0;
		buf_free(&again);
		if (!same)
			{
			cli_error("the passwords do not match");
			return -1;
		}
	}
	if (auth_password_check(buf_cstr(out), out->len, &err) < 0) {
		cli_error("bad password: %s", buf_cstr(&err));
		buf_free(&err);
		return -1;
	}
	buf_free(&err);
	return 0;
}
