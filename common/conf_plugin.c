/* SPDX-License-Identifier: ISC */
/*
 * conf_plugin.c: the [plugin.NAME] sections of gotunnel.ini: HTTP server
 * plugins that speak frp's server-plugin protocol (addr, path, ops, timeout).
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "conf_ini.h"
#include "config.h"

#define DEFAULT_TIMEOUT	3

static const struct conf_word plugin_ops[] = {
	{ "Login", PLUGIN_LOGIN },
	{ "NewProxy", PLUGIN_NEW_PROXY },
	{ "CloseProxy", PLUGIN_CLOSE_PROXY },
	{ "NewUserConn", PLUGIN_NEW_USER_CONN },
};

/* Returns frp's name of one op bit ("" if unknown). */
const char *
conf_plugin_op_name(unsigned op)
{
	for (size_t i = 0; i < sizeof(plugin_ops) / sizeof(plugin_ops[0]); i++)
		if (plugin_ops[i].bit == op)
			return plugin_ops[i].name;
	return "";
}

/* Parses "Login, NewProxy" into op bits; -1 (bad gets the word) if unknown. */
static int
conf_plugin_ops(const char *s, unsigned *out, char *bad, size_t badlen)
{
	return conf_parse_words(s, plugin_ops, sizeof(plugin_ops) /
	    sizeof(plugin_ops[0]), out, bad, badlen);
}

/* Finds or adds the plugin of [plugin.NAME]; NULL with a message in ctx. */
static struct plugin_conf *
conf_plugin_get(struct conf_ctx *ctx, struct server_config *c, const char *name)
{
	struct plugin_conf	*p;
	int			 fresh;

	/* name is the struct's first member, as conf_named_slot() wants. */
	_Static_assert(offsetof(struct plugin_conf, name) == 0 &&
	    sizeof(p->name) == 32, "plugin_conf starts with char name[32]");
	p = conf_named_slot(ctx, "plugin", name, c->plugins, sizeof(*p),
	    &c->nplugins, CONF_MAX_PLUGINS, &fresh);
	if (p != NULL && fresh)
		p->timeout = DEFAULT_TIMEOUT;
	return p;
}

/* Applies one key of a [plugin.NAME] section; an error message or NULL. */
const char *
conf_plugin_key(struct conf_ctx *ctx, struct server_config *c, const char *name,
    const char *key, const char *value)
{
	struct plugin_conf	*p;
	char			 bad[32];
	const char		*colon;

	if ((p = conf_plugin_get(ctx, c, name)) == NULL)
		return ctx->msg;
	if (strcmp(key, "addr") == 0) {
		colon = strrchr(value, ':');
		if (colon == NULL || colon == value || colon[1] == '\0' ||
		    strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
		    strchr(value, '/') != NULL || strlen(value) >= sizeof(p->addr))
			return "addr must be host:port, e.g. 127.0.0.1:9000";
		snprintf(p->addr, sizeof(p->addr), "%s", value);
		return NULL;
	}
	if (strcmp(key, "path") == 0) {
		if (value[0] != '/' || strlen(value) >= sizeof(p->path) ||
		    strpbrk(value, "?# \t") != NULL)
			return "path must start with '/' (no query), e.g. /handler";
		snprintf(p->path, sizeof(p->path), "%s", value);
		return NULL;
	}
	if (strcmp(key, "ops") == 0) {
		if (conf_plugin_ops(value, &p->ops, bad, sizeof(bad)) == -1) {
			snprintf(ctx->msg, sizeof(ctx->msg), "ops: unknown op '%s' "
			    "(Login, NewProxy, CloseProxy, NewUserConn)", bad);
			return ctx->msg;
		}
		return NULL;
	}
	if (strcmp(key, "timeout") == 0) {
		if (conf_parse_duration(value, &p->timeout) == -1 ||
		    p->timeout > 60)
			return "timeout must be a duration from 1s to 60s";
		return NULL;
	}
	snprintf(ctx->msg, sizeof(ctx->msg), "unknown key '%s' in [plugin.%s]",
	    key, name);
	return ctx->msg;
}

/* Checks each plugin once the file is read. */
int
conf_plugin_check(struct server_config *c, char *err, size_t errlen)
{
	for (int i = 0; i < c->nplugins; i++) {
		struct plugin_conf *p = &c->plugins[i];

		if (p->addr[0] == '\0' || p->path[0] == '\0' || p->ops == 0) {
			snprintf(err, errlen, "%s: [plugin.%s] needs addr, path "
			    "and ops", c->path, p->name);
			return -1;
		}
	}
	return 0;
}
