/* SPDX-License-Identifier: ISC */
/*
 * conf_alert.c: the [alert.NAME] sections of gotunnel.ini: one webhook
 * receiver each, with the events it wants and their thresholds.
 */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf_ini.h"
#include "config.h"

#define DEFAULT_OFFLINE_FOR	60
#define DEFAULT_AUTH_PER_MIN	20
#define DEFAULT_RETRY_FOR	3600	/* an hour of retries */
#define MIN_RETRY_FOR		600	/* the floor: ten minutes */
#define DEFAULT_RETRY_INTERVAL	60

static const struct conf_word alert_events[] = {
	{ "client_offline", ALERT_CLIENT_OFFLINE },
	{ "traffic_quota", ALERT_TRAFFIC_QUOTA },
	{ "auth_failures", ALERT_AUTH_FAILURES },
	{ "node_offline", ALERT_NODE_OFFLINE },
};

/* Returns the config/JSON name of one event bit ("" if unknown). */
const char *
conf_alert_event_name(unsigned event)
{
	for (size_t i = 0; i < sizeof(alert_events) / sizeof(alert_events[0]); i++)
		if (alert_events[i].bit == event)
			return alert_events[i].name;
	return "";
}

/* Parses "50G", "512M", "10K", "1T" or plain bytes (1K = 1024) into bytes. */
int
conf_parse_bytes(const char *s, int64_t *bytes)
{
	char		*end;
	long long	 v, mult = 1;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || v <= 0)
		return -1;
	switch (toupper((unsigned char)*end)) {
	case '\0': break;
	case 'K': mult = 1LL << 10; end++; break;
	case 'M': mult = 1LL << 20; end++; break;
	case 'G': mult = 1LL << 30; end++; break;
	case 'T': mult = 1LL << 40; end++; break;
	default: return -1;
	}
	if (mult > 1 && toupper((unsigned char)*end) == 'B')
		end++;
	if (*end != '\0' || v > (1LL << 60) / mult)
		return -1;
	*bytes = v * mult;
	return 0;
}

/* Tells whether name matches one of the comma-separated glob patterns. */
int
conf_alert_glob_match(const char *patterns, const char *name)
{
	char	 pat[512];
	size_t	 n;

	while (*patterns != '\0') {
		patterns += strspn(patterns, " \t,");
		n = strcspn(patterns, ",");
		if (n > 0 && n < sizeof(pat)) {
			memcpy(pat, patterns, n);
			while (n > 0 && (pat[n - 1] == ' ' || pat[n - 1] == '\t'))
				n--;
			pat[n] = '\0';
			if (n > 0 && fnmatch(pat, name, 0) == 0)
				return 1;
		}
		patterns += strcspn(patterns, ",");
	}
	return 0;
}

/* Parses "client_offline, traffic_quota" into event bits; -1 if unknown. */
static int
conf_alert_events(const char *s, unsigned *out, char *bad, size_t badlen)
{
	return conf_parse_words(s, alert_events, sizeof(alert_events) /
	    sizeof(alert_events[0]), out, bad, badlen);
}

/* Finds or adds the receiver of [alert.NAME]; NULL with a message in ctx. */
static struct alert_conf *
conf_alert_get(struct conf_ctx *ctx, struct server_config *c, const char *name)
{
	struct alert_conf	*a;
	int			 fresh;

	/* name is the struct's first member, as conf_named_slot() wants. */
	_Static_assert(offsetof(struct alert_conf, name) == 0 &&
	    sizeof(a->name) == 32, "alert_conf starts with char name[32]");
	a = conf_named_slot(ctx, "alert", name, c->alerts, sizeof(*a),
	    &c->nalerts, CONF_MAX_ALERTS, &fresh);
	if (a != NULL && fresh) {
		a->offline_for = DEFAULT_OFFLINE_FOR;
		snprintf(a->clients, sizeof(a->clients), "*");
		a->auth_failures_per_min = DEFAULT_AUTH_PER_MIN;
		a->retry_for = DEFAULT_RETRY_FOR;
		a->retry_interval = DEFAULT_RETRY_INTERVAL;
	}
	return a;
}

/* Copies a string value into a fixed field; an error message if too long. */
static const char *
conf_alert_str(char *dst, size_t size, const char *value)
{
	if (strlen(value) >= size)
		return "value too long";
	snprintf(dst, size, "%s", value);
	return NULL;
}

/* Applies one key of an [alert.NAME] section; an error message or NULL. */
const char *
conf_alert_key(struct conf_ctx *ctx, struct server_config *c, const char *name,
    const char *key, const char *value)
{
	struct alert_conf	*a;
	char			 bad[32];

	if ((a = conf_alert_get(ctx, c, name)) == NULL)
		return ctx->msg;
	if (strcmp(key, "webhook_url") == 0) {
		if (strncasecmp(value, "http://", 7) != 0 &&
		    strncasecmp(value, "https://", 8) != 0)
			return "webhook_url must start with http:// or https://";
		return conf_alert_str(a->webhook_url, sizeof(a->webhook_url), value);
	}
	if (strcmp(key, "events") == 0) {
		if (conf_alert_events(value, &a->events, bad, sizeof(bad)) == -1) {
			snprintf(ctx->msg, sizeof(ctx->msg), "events: unknown event "
			    "'%s' (client_offline, traffic_quota, auth_failures, "
			    "node_offline)", bad);
			return ctx->msg;
		}
		a->events_set = 1;
		return NULL;
	}
	if (strcmp(key, "offline_for") == 0)
		return conf_parse_duration(value, &a->offline_for) == -1 ?
		    "expected a duration such as 90, 30s, 5m or 12h" : NULL;
	if (strcmp(key, "clients") == 0)
		return conf_alert_str(a->clients, sizeof(a->clients), value);
	if (strcmp(key, "quota_bytes_per_day") == 0)
		return conf_parse_bytes(value, &a->quota_bytes_per_day) == -1 ?
		    "expected a size such as 500M, 50G or 1T" : NULL;
	if (strcmp(key, "auth_failures_per_min") == 0)
		return conf_parse_int(value, 1, 1000000,
		    &a->auth_failures_per_min) == -1 ?
		    "auth_failures_per_min must be a number from 1 to 1000000" : NULL;
	if (strcmp(key, "secret") == 0)
		return conf_alert_str(a->secret, sizeof(a->secret), value);
	if (strcmp(key, "ca_file") == 0)
		return conf_alert_str(a->ca_file, sizeof(a->ca_file), value);
	if (strcmp(key, "retry_for") == 0) {
		if (conf_parse_duration(value, &a->retry_for) == -1 ||
		    a->retry_for < MIN_RETRY_FOR)
			return "retry_for must be a duration of at least 10m";
		return NULL;
	}
	if (strcmp(key, "retry_interval") == 0) {
		if (conf_parse_duration(value, &a->retry_interval) == -1 ||
		    a->retry_interval > 3600)
			return "retry_interval must be a duration from 1s to 1h";
		return NULL;
	}
	snprintf(ctx->msg, sizeof(ctx->msg), "unknown key '%s' in [alert.%s]",
	    key, name);
	return ctx->msg;
}

/* Checks each receiver once the file is read (keys may come in any order). */
int
conf_alert_check(struct server_config *c, char *err, size_t errlen)
{
	for (int i = 0; i < c->nalerts; i++) {
		struct alert_conf *a = &c->alerts[i];

		if (a->webhook_url[0] == '\0') {
			snprintf(err, errlen, "%s: [alert.%s] needs webhook_url",
			    c->path, a->name);
			return -1;
		}
		if (!a->events_set)
			a->events = ALERT_CLIENT_OFFLINE | ALERT_AUTH_FAILURES |
			    ALERT_NODE_OFFLINE | (a->quota_bytes_per_day > 0 ?
			    ALERT_TRAFFIC_QUOTA : 0);
		if ((a->events & ALERT_TRAFFIC_QUOTA) &&
		    a->quota_bytes_per_day == 0) {
			snprintf(err, errlen, "%s: [alert.%s] traffic_quota needs "
			    "quota_bytes_per_day", c->path, a->name);
			return -1;
		}
	}
	return 0;
}
