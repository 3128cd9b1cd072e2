/*
 * petrel — one mail server program. This file only dispatches subcommands;
 * each lives in src/cli/.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct cli_cmd cli_commands[] = {
	{"serve", cli_serve, "run the server",
	 "usage: petrel [-c FILE] serve\n"
	 "\n"
	 "Runs every listener of the configuration (SMTP, submission, IMAP, POP3, HTTP)\n"
	 "until SIGTERM or SIGINT; SIGHUP reloads the configuration and certificate.\n"
	 "With no configuration: data in ./var, a self-signed certificate, listeners on\n"
	 "127.0.0.1 (SMTP 2525, submission 2587, submissions 2465, IMAP 1143, IMAPS 1993,\n"
	 "POP3 1110, POP3S 1995, HTTP 8025). The first start creates domain localhost and\n"
	 "postmaster@localhost, and prints its password once.\n"},
	{"domain", cli_domain, "add, list or remove local domains",
	 "usage: petrel [-c FILE] domain add NAME\n"
	 "       petrel [-c FILE] domain list\n"
	 "       petrel [-c FILE] domain remove NAME\n"
	 "\n"
	 "A domain must exist before accounts or aliases in it. A domain with accounts\n"
	 "cannot be removed; its aliases go with it.\n"},
	{"user", cli_user, "add, list, remove accounts; set passwords and quotas",
	 "usage: petrel [-c FILE] user add ADDRESS [--password-stdin] [--quota SIZE]\n"
	 "       petrel [-c FILE] user passwd ADDRESS [--password-stdin]\n"
	 "       petrel [-c FILE] user list\n"
	 "       petrel [-c FILE] user remove ADDRESS\n"
	 "       petrel [-c FILE] user quota ADDRESS SIZE\n"
	 "\n"
	 "The password is asked twice on the terminal, or read as one line from\n"
	 "standard input with --password-stdin. SIZE is bytes with an optional K, M, G\n"
	 "or T suffix, or 'none'. Removing an account removes all of its mail.\n"},
	{"alias", cli_alias, "add, list or remove aliases",
	 "usage: petrel [-c FILE] alias add ADDRESS TARGET...\n"
	 "       petrel [-c FILE] alias list\n"
	 "       petrel [-c FILE] alias remove ADDRESS [TARGET...]\n"
	 "\n"
	 "ADDRESS is user@domain, or @domain for a catch-all. Targets are addresses,\n"
	 "local or remote; aliases may point to aliases. An alias that names its own\n"
	 "address among its targets keeps a copy in that account.\n"},
	{"check-config", cli_check_config, "validate and print the effective configuration",
	 "usage: petrel [-c FILE] check-config\n"
	 "\n"
	 "Reads the configuration (-c FILE, else $PETREL_CONFIG, else the embedded\n"
	 "defaults), reports the first error with its file and line, or prints every\n"
	 "key with its effective value.\n"},
	{"queue", cli_queue, "list and manage the outbound queue",
	 "usage: petrel [-c FILE] queue list\n"
	 "       petrel [-c FILE] queue show ID\n"
	 "       petrel [-c FILE] queue flush [ID]\n"
	 "       petrel [-c FILE] queue retry|hold|release|remove ID\n"
	 "\n"
	 "list shows every message waiting, with each recipient's state, attempts, next\n"
	 "attempt and the last reply; show adds one message's delivery events. flush makes\n"
	 "every deferred recipient (of message ID) due now, retry does it for one message.\n"
	 "hold keeps a message from being delivered until release. remove drops a\n"
	 "message from the queue without a bounce (its recipients get a 'removed'\n"
	 "event). A running server sees the change within a second.\n"},
	{"receipts", cli_receipts, "show the delivery events of an address or a message",
	 "usage: petrel [-c FILE] receipts ADDRESS|QUEUE-ID\n"
	 "\n"
	 "Every delivery event (queued, deferred, delivered, bounced, expired, removed)\n"
	 "of a recipient address or of a queue message, oldest first: time, attempt,\n"
	 "remote host and address, TLS, and the remote server's reply.\n"},
	{"store", cli_store_cmd, "check the store's integrity, rebuild its search index",
	 "usage: petrel [-c FILE] store check\n"
	 "       petrel [-c FILE] store reindex [ACCOUNT] [--all]\n"
	 "\n"
	 "check runs SQLite's integrity check and petrel's own invariants (reference\n"
	 "counts, counters, UIDs, MODSEQs, the full-text index); prints 'ok' or each\n"
	 "problem, exit code 1 if any.\n"
	 "\n"
	 "reindex adds to the full-text index of IMAP SEARCH BODY and TEXT the messages\n"
	 "it does not know (those of ACCOUNT, or of every account), such as messages\n"
	 "stored by an older petrel; with --all it rewrites every entry. It works in\n"
	 "transactions of at most 100 messages, so it is safe while the server runs;\n"
	 "until it is done, SEARCH reads the messages not yet indexed. Prints the\n"
	 "number of messages indexed.\n"},
	{"apikey", cli_apikey, "create, list or revoke keys of the HTTP API",
	 "usage: petrel [-c FILE] apikey create NAME [--domain D]... [--pool P] [--rate N/s]\n"
	 "       petrel [-c FILE] apikey list\n"
	 "       petrel [-c FILE] apikey revoke NAME\n"
	 "\n"
	 "create prints a new key once, alone on standard output; only its SHA-256 is\n"
	 "kept. The key may send from the given domains only (default: every local\n"
	 "domain), through source-IP pool P, at most N messages per second (N/s, N/m\n"
	 "or N/h; default: no limit). A revoked key stops working at once and keeps\n"
	 "its name. Clients send it as 'Authorization: Bearer KEY'.\n"},
	{"dkim", cli_dkim, "create, list, show or remove DKIM signing keys",
	 "usage: petrel [-c FILE] dkim generate DOMAIN [--selector S] [--algorithm rsa|ed25519]\n"
	 "       petrel [-c FILE] dkim list [DOMAIN]\n"
	 "       petrel [-c FILE] dkim show DOMAIN\n"
	 "       petrel [-c FILE] dkim remove DOMAIN SELECTOR\n"
	 "\n"
	 "generate makes a key for a local domain (RSA 2048 bits by default, or Ed25519)\n"
	 "and prints the DNS TXT record to publish, alone on standard output. The\n"
	 "default selector is the algorithm and the month (rsa-202601, ed25519-202601).\n"
	 "show prints the records of a domain's keys again; list shows every key and\n"
	 "which ones sign. Mail leaving from a domain with keys (submission and the\n"
	 "HTTP API) is signed with the newest key of each algorithm, relaxed/relaxed.\n"
	 "To rotate: generate, publish, wait for DNS, remove the old selector.\n"},
	{"webhook", cli_webhook, "add, list, remove or test webhooks of the HTTP API",
	 "usage: petrel [-c FILE] webhook add URL [--events KIND,...] [--key NAME]\n"
	 "       petrel [-c FILE] webhook list\n"
	 "       petrel [-c FILE] webhook remove ID\n"
	 "       petrel [-c FILE] webhook test ID\n"
	 "\n"
	 "The running server POSTs each delivery event of messages sent through the HTTP\n"
	 "API (with key NAME only, when given) to URL as JSON, signed with the webhook's\n"
	 "secret, and retries until the receiver answers 2xx ([webhooks] max_age).\n"
	 "KINDs: queued, deferred, delivered, bounced, expired, failed, removed (default:\n"
	 "all). add prints the signing secret once, alone on standard output. test sends\n"
	 "a test event through the running server and reports the receiver's answer.\n"},
};
const size_t cli_ncommands = ARRAY_SIZE(cli_commands);

static void usage(FILE *f)
{
	fprintf(f, "usage: petrel [-c FILE] COMMAND [ARGS]\n"
		   "\n"
		   "Commands:\n");
	for (size_t i = 0; i < cli_ncommands; i++)
		fprintf(f, "  %-14s %s\n", cli_commands[i].name, cli_commands[i].summary);
	fprintf(f, "  %-14s %s\n", "help", "show this, or a command's help");
	fprintf(f, "\n"
		   "Options:\n"
		   "  -c, --config FILE   configuration file (default: $PETREL_CONFIG, else\n"
		   "                      the embedded defaults)\n"
		   "  -V, --version       print the version\n"
		   "\n"
		   "`petrel COMMAND --help` describes a command.\n");
}

static const struct cli_cmd *find(const char *name)
{
	for (size_t i = 0; i < cli_ncommands; i++)
		if (strcmp(cli_commands[i].name, name) == 0)
			return &cli_commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	const char *config_path = NULL;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) {
			if (i + 1 >= argc) {
				cli_error("%s needs a file name", argv[i]);
				return 2;
			}
			config_path = argv[++i];
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			config_path = argv[i] + 9;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "-V") == 0 || strcmp(argv[i], "--version") == 0) {
			printf("petrel " PETREL_VERSION "\n");
			return 0;
		} else {
			cli_error("unknown option '%s'", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	const char *name = argv[i];
	if (strcmp(name, "help") == 0) {
		if (i + 1 < argc) {
			const struct cli_cmd *c = find(argv[i + 1]);
			if (!c) {
				cli_error("unknown command '%s'", argv[i + 1]);
				return 2;
			}
			fputs(c->usage, stdout);
			return 0;
		}
		usage(stdout);
		return 0;
	}
	const struct cli_cmd *c = find(name);
	if (!c) {
		cli_error("unknown command '%s' (see `petrel help`)", name);
		return 2;
	}
	if (cli_wants_help(argc - i - 1, argv + i + 1)) {
		fputs(c->usage, stdout);
		return 0;
	}
	return c->run(argc - i - 1, argv + i + 1, config_path);
}
