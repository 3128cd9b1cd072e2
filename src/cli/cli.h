/*
 * cli — the subcommands of `petrel`.
 *
 * Each command gets its arguments (after the command name) and the path of the
 * configuration file given with -c, or NULL. It returns the process exit code:
 * 0 on success, 1 on an error (one clear line on stderr, "petrel: ..."), 2 on a
 * usage error. Commands that write to the store do it in one transaction each:
 * nothing is ever half-written, and a running server sees the change at once.
 */
#ifndef PETREL_CLI_H
#define PETREL_CLI_H

#include "core/config.h"
#include "core/core.h"

struct store;

struct cli_cmd {
	const char *name;
	int (*run)(int argc, char **argv, const char *config_path);
	const char *summary;
	const char *usage; /* full help text */
};

extern const struct cli_cmd cli_commands[];
extern const size_t cli_ncommands;

int cli_serve(int argc, char **argv, const char *config_path);
int cli_domain(int argc, char **argv, const char *config_path);
int cli_user(int argc, char **argv, const char *config_path);
int cli_alias(int argc, char **argv, const char *config_path);
int cli_check_config(int argc, char **argv, const char *config_path);
int cli_store_cmd(int argc, char **argv, const char *config_path);
int cli_queue(int argc, char **argv, const char *config_path);
int cli_receipts(int argc, char **argv, const char *config_path);
int cli_apikey(int argc, char **argv, const char *config_path);
int cli_dkim(int argc, char **argv, const char *config_path);
int cli_webhook(int argc, char **argv, const char *config_path);

/* Helpers shared by the commands (cli_common.c). */
int cli_error(const char *fmt, ...) PRINTF_LIKE(1, 2); /* prints, returns 1 */
int cli_usage(const char *cmd);                        /* prints usage, returns 2 */
bool cli_wants_help(int argc, char **argv);
/* Creates the data folder; as root with [server] user set, gives it to that user. */
int cli_prepare_data_dir(const struct config *cfg, struct buf *err);
/* Loads the configuration and opens the store; prints the error and returns -1. */
int cli_open(const char *config_path, struct config *cfg, struct store **st_r);
void cli_close(struct config *cfg, struct store **st);
/* Parses "0", "none", "512M", "2G" ... into bytes. */
int cli_parse_size(const char *s, uint64_t *v_r);
/* Reads a new password: one line from stdin with --password-stdin, else asks
   twice on the terminal with echo off. */
int cli_read_password(bool from_stdin, struct buf *out);

#endif
