/* SPDX-License-Identifier: ISC */
/* conf_ini.h: INI parsing (libinih) with "FILE:LINE: message" errors, and value helpers. */
#ifndef GOTUNNEL_CONF_INI_H
#define GOTUNNEL_CONF_INI_H

#include <stddef.h>
#include <stdint.h>

struct conf_ctx;

/* Returns NULL on success or a message (static or in ctx) for this key. */
typedef const char *(*conf_key_fn)(struct conf_ctx *, const char *section,
    const char *name, const char *value);

struct conf_ctx {
	conf_key_fn	 fn;
	void		*user;
	int		 line;		/* line being parsed */
	int		 section_line;	/* line of the last [section] header */
	int		 err_line;
	char		 msg[256];	/* scratch for formatted messages */
	char		 err[512];	/* first error: "FILE:LINE: message" */
	const char	*path;
};

/* One word of a comma-separated list and the bit it stands for. */
struct conf_word {
	const char	*name;
	unsigned	 bit;
};

int	conf_ini_parse(const char *path, conf_key_fn, void *user, char *err,
	    size_t errlen);
int	conf_parse_int(const char *, long min, long max, long *out);
int	conf_parse_bool(const char *, int *out);
int	conf_parse_duration(const char *, long *seconds);
int	conf_parse_ip(const char *);
int	conf_parse_bandwidth(const char *, int64_t *bytes);
int	conf_parse_words(const char *, const struct conf_word *, size_t,
	    unsigned *out, char *bad, size_t badlen);
void	*conf_named_slot(struct conf_ctx *, const char *kind, const char *name,
	    void *slots, size_t slot_size, int *count, int max, int *fresh);

#endif
