/* SPDX-License-Identifier: ISC */
/* client.c: gotunnel-client's main(): options, config, signals, the loop. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "client.h"
#include "ctls.h"
#include "relay.h"
#include "xmalloc.h"

struct client *C;

/* Prints usage. */
static void
usage(FILE *fp)
{
	fprintf(fp, "usage: gotunnel-client [-tvVh] [-c file]\n"
	    "       gotunnel-client [-tv] --server HOST[:PORT][,HOST[:PORT]...] "
	    "--token-file FILE\n"
	    "           --map NAME=LOCAL_PORT:REMOTE_PORT [--map ...] "
	    "[--local-ip IP] [--name NAME]\n"
	    "           [--fingerprint sha256:HEX | --ca-file FILE] "
	    "[--tls-server-name NAME]\n"
	    "           [--discovery-interval SECS]\n"
	    "  -c file  configuration (default /etc/gotunnel/gotunnel-client.ini)\n"
	    "  -t       check the configuration and exit\n"
	    "  -v       verbose (debug) logging\n"
	    "  -V       print the version and exit\n"
	    "  -h       this help\n");
}

/* SIGTERM/SIGINT end the loop; SIGHUP is logged and ignored. */
static void
client_signal(evutil_socket_t sig, short what, void *arg)
{
	if (sig == SIGHUP) {
		log_info("SIGHUP ignored: restart the client to apply a new config");
		return;
	}
	log_info("%s received; exiting", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	event_base_loopbreak(C->base);
}

/* Frees everything (clean exit under leak checkers). */
static void
client_cleanup(void)
{
	discovery_stop();
	session_free_all();
	local_free_all();
	udp_free_all();
	evsignal_del(&C->ev_sigterm);
	evsignal_del(&C->ev_sigint);
	evsignal_del(&C->ev_sighup);
	relay_pipes_release_all();
	ctls_ctx_free(C->tls_ctx);
	event_base_free(C->base);
	free(C);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "server", required_argument, NULL, CLI_SERVER },
		{ "token-file", required_argument, NULL, CLI_TOKEN_FILE },
		{ "map", required_argument, NULL, CLI_MAP },
		{ "local-ip", required_argument, NULL, CLI_LOCAL_IP },
		{ "name", required_argument, NULL, CLI_NAME },
		{ "fingerprint", required_argument, NULL, CLI_FINGERPRINT },
		{ "ca-file", required_argument, NULL, CLI_CA_FILE },
		{ "tls-server-name", required_argument, NULL, CLI_TLS_SERVER_NAME },
		{ "discovery-interval", required_argument, NULL,
		    CLI_DISCOVERY_INTERVAL },
		{ NULL, 0, NULL, 0 }
	};
	const char	*conf = "/etc/gotunnel/gotunnel-client.ini";
	char		 err[512];
	int		 ch, check = 0, verbose = 0, file = 0, cli = 0;

	C = xcalloc(1, sizeof(*C));
	client_config_defaults(&C->conf);
	while ((ch = getopt_long(argc, argv, "c:tvVh", longopts, NULL)) != -1) {
		if (ch >= CLI_SERVER) {
			cli = 1;
			if (client_cli_set(&C->conf, ch, optarg, err,
			    sizeof(err)) == -1) {
				fprintf(stderr, "gotunnel-client: %s\n", err);
				free(C);
				return 1;
			}
			continue;
		}
		switch (ch) {
		case 'c': conf = optarg; file = 1; break;
		case 't': check = 1; break;
		case 'v': verbose = 1; break;
		case 'V':
			printf("gotunnel-client %s (TLS: %s)\n", GOTUNNEL_VERSION,
			    ctls_library());
			free(C);
			return 0;
		case 'h':
			usage(stdout);
			free(C);
			return 0;
		default:
			usage(stderr);
			free(C);
			return 1;
		}
	}
	if (optind != argc || (file && cli)) {
		if (optind != argc)
			fprintf(stderr, "gotunnel-client: unexpected argument "
			    "'%s'\n", argv[optind]);
		else
			fprintf(stderr, "gotunnel-client: use either -c FILE or "
			    "--server/--token-file/--map, not both\n");
		usage(stderr);
		free(C);
		return 1;
	}
	if (cli)
		conf = "command line";
	if ((cli ? client_cli_finish(&C->conf, err, sizeof(err)) :
	    client_config_load(conf, &C->conf, err, sizeof(err))) == -1) {
		fprintf(stderr, "%s\n", err);
		free(C);
		return 1;
	}
	if (check) {
		if (client_tls_init(err, sizeof(err)) == -1) {
			fprintf(stderr, "%s: %s\n", conf, err);
			free(C);
			return 1;
		}
		ctls_ctx_free(C->tls_ctx);
		printf("%s: configuration OK\n", conf);
		free(C);
		return 0;
	}
	log_init("client", verbose ? LOG_LVL_DEBUG : C->conf.log_level);
	signal(SIGPIPE, SIG_IGN);
	TAILQ_INIT(&C->dconns);
	TAILQ_INIT(&C->sessions);
	if ((C->base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	evsignal_assign(&C->ev_sigterm, C->base, SIGTERM, client_signal, NULL);
	evsignal_assign(&C->ev_sigint, C->base, SIGINT, client_signal, NULL);
	evsignal_assign(&C->ev_sighup, C->base, SIGHUP, client_signal, NULL);
	evsignal_add(&C->ev_sigterm, NULL);
	evsignal_add(&C->ev_sigint, NULL);
	evsignal_add(&C->ev_sighup, NULL);
	if (client_tls_init(err, sizeof(err)) == -1)
		fatalx("%s", err);
	log_info("gotunnel-client %s: %zu mapping(s), servers %s (default port "
	    "%ld), name %s", GOTUNNEL_VERSION, C->conf.nmaps, C->conf.server_addr,
	    C->conf.server_port, C->conf.name);
	discovery_start();
	event_base_dispatch(C->base);
	client_cleanup();
	return 0;
}
