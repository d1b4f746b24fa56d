/* SPDX-License-Identifier: ISC */
/* conf_ini.c: a line-counting libinih front end shared by every config file. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "conf_ini.h"

struct line_reader {
	FILE		*fp;
	struct conf_ctx	*ctx;
};

/*
 * Reads one line for inih and counts it, so errors can name their line.
 * inih's line buffer is small (num, 200 bytes): a longer line would reach
 * it in pieces, cutting a value short and turning its tail into a bogus
 * line with a wrong number.  Such a line is an error of its own instead.
 */
static char *
conf_reader(char *str, int num, void *stream)
{
	struct line_reader	*r = stream;
	char			*s = fgets(str, num, r->fp);
	size_t			 len;
	int			 ch;

	if (s == NULL)
		return NULL;
	r->ctx->line++;
	s += strspn(s, " \t");
	if (*s == '[')
		r->ctx->section_line = r->ctx->line;
	s = str;
	len = strlen(s);
	if (len == 0 || s[len - 1] == '\n')
		return s;
	/* No newline: the file ends here, or the line goes on. */
	if ((ch = getc(r->fp)) == EOF || ch == '\n')
		return s;
	while (ch != EOF && ch != '\n')
		ch = getc(r->fp);
	if (r->ctx->err_line == 0) {
		r->ctx->err_line = r->ctx->line;
		snprintf(r->ctx->err, sizeof(r->ctx->err), "%s:%d: line too "
		    "long (limit %d characters)", r->ctx->path, r->ctx->line,
		    num - 1);
	}
	str[0] = '\0';		/* inih sees an empty line */
	return str;
}

/* inih callback: delegates to the file's key table, keeps the first error. */
static int
conf_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct conf_ctx	*ctx = user;
	const char	*msg;

	msg = ctx->fn(ctx, section, name, value);
	if (msg == NULL)
		return 1;
	if (ctx->err_line == 0) {
		ctx->err_line = ctx->line;
		snprintf(ctx->err, sizeof(ctx->err), "%s:%d: %s", ctx->path,
		    ctx->line, msg);
	}
	return 0;
}

/* Parses path; returns 0, or -1 with "FILE:LINE: message" in err. */
int
conf_ini_parse(const char *path, conf_key_fn fn, void *user, char *err,
    size_t errlen)
{
	struct conf_ctx		ctx;
	struct line_reader	r;
	FILE			*fp;
	int			 rc;

	memset(&ctx, 0, sizeof(ctx));
	ctx.fn = fn;
	ctx.user = user;
	ctx.path = path;
	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	r.fp = fp;
	r.ctx = &ctx;
	rc = ini_parse_stream(conf_reader, &r, conf_handler, &ctx);
	fclose(fp);
	if (rc == 0 && ctx.err_line == 0)
		return 0;
	/* The first error wins: ours (key or long line), or inih's syntax error. */
	if (ctx.err_line != 0 && (rc == 0 || rc >= ctx.err_line))
		snprintf(err, errlen, "%s", ctx.err);
	else if (rc > 0)
		snprintf(err, errlen, "%s:%d: syntax error (expected "
		    "[section] or key = value)", path, rc);
	else
		snprintf(err, errlen, "%s: cannot read the file", path);
	return -1;
}

/* Parses a decimal integer within [min, max]. */
int
conf_parse_int(const char *s, long min, long max, long *out)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Parses true/false, yes/no, on/off, 1/0. */
int
conf_parse_bool(const char *s, int *out)
{
	if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") ||
	    !strcasecmp(s, "on") || !strcmp(s, "1"))
		*out = 1;
	else if (!strcasecmp(s, "false") || !strcasecmp(s, "no") ||
	    !strcasecmp(s, "off") || !strcmp(s, "0"))
		*out = 0;
	else
		return -1;
	return 0;
}

/* Parses "90", "90s", "30m", "12h" or "7d" into seconds (> 0). */
int
conf_parse_duration(const char *s, long *seconds)
{
	char	*end;
	long	 v, mult = 1;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || v <= 0)
		return -1;
	if (*end != '\0') {
		if (end[1] != '\0')
			return -1;
		switch (*end) {
		case 's': mult = 1; break;
		case 'm': mult = 60; break;
		case 'h': mult = 3600; break;
		case 'd': mult = 86400; break;
		default: return -1;
		}
	}
	if (v > LONG_MAX / mult)
		return -1;
	*seconds = v * mult;
	return 0;
}

/*
 * Parses a bandwidth like frp's bandwidth_limit: "512KB" or "2MB" (1 KB =
 * 1024 bytes) a second, or "0" for none, into bytes a second (<= 2^33).
 */
int
conf_parse_bandwidth(const char *s, int64_t *bytes)
{
	char		*end;
	long long	 v, mult;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || v < 0)
		return -1;
	if (v == 0 && *end == '\0') {
		*bytes = 0;
		return 0;
	}
	if (strcasecmp(end, "KB") == 0)
		mult = 1024;
	else if (strcasecmp(end, "MB") == 0)
		mult = 1024 * 1024;
	else
		return -1;
	if (v > (1LL << 33) / mult)
		return -1;
	*bytes = v * mult;
	return 0;
}

/* Tells whether s is a literal IPv4 or IPv6 address. */
int
conf_parse_ip(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/*
 * Parses "a, b c" against words into their bits; -1 with the unknown word
 * in bad, or when the list is empty.
 */
int
conf_parse_words(const char *s, const struct conf_word *words, size_t nwords,
    unsigned *out, char *bad, size_t badlen)
{
	size_t n, i;

	*out = 0;
	while (*s != '\0') {
		s += strspn(s, " \t,");
		if (*s == '\0')
			break;
		n = strcspn(s, " \t,");
		for (i = 0; i < nwords; i++)
			if (n == strlen(words[i].name) &&
			    strncmp(s, words[i].name, n) == 0)
				break;
		if (i == nwords) {
			snprintf(bad, badlen, "%.*s", (int)n, s);
			return -1;
		}
		*out |= words[i].bit;
		s += n;
	}
	return *out == 0 ? -1 : 0;
}

/*
 * Finds or adds the slot of a [KIND.NAME] section in an array of structs
 * that each begin with char name[32]; a new slot is zeroed, named and
 * flagged in *fresh (for its defaults).  NULL with a message in ctx.
 */
void *
conf_named_slot(struct conf_ctx *ctx, const char *kind, const char *name,
    void *slots, size_t slot_size, int *count, int max, int *fresh)
{
	char	*slot;
	size_t	 n = strlen(name);

	*fresh = 0;
	if (n == 0 || n >= 32 ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789_-") != n) {
		snprintf(ctx->msg, sizeof(ctx->msg), "[%s.%s]: the name must "
		    "be 1-31 letters, digits, '_' or '-'", kind, name);
		return NULL;
	}
	for (int i = 0; i < *count; i++) {
		slot = (char *)slots + (size_t)i * slot_size;
		if (strcmp(slot, name) == 0)
			return slot;
	}
	if (*count == max) {
		snprintf(ctx->msg, sizeof(ctx->msg), "too many [%s.NAME] "
		    "sections (limit %d)", kind, max);
		return NULL;
	}
	slot = (char *)slots + (size_t)(*count)++ * slot_size;
	memset(slot, 0, slot_size);
	snprintf(slot, 32, "%s", name);
	*fresh = 1;
	return slot;
}
