/* SPDX-License-Identifier: ISC */
/* strmap.h: a small string-keyed hash map (client ids, data ids). */
#ifndef GOTUNNEL_STRMAP_H
#define GOTUNNEL_STRMAP_H
#include <stddef.h>

struct strmap_entry {
	struct strmap_entry	*next;
	void			*value;
	char			 key[];
};

struct strmap {
	struct strmap_entry	**buckets;
	size_t			  nbuckets;
	size_t			  count;
};

void	 strmap_init(struct strmap *);
void	 strmap_free(struct strmap *);
int	 strmap_put(struct strmap *, const char *key, void *value);
void	*strmap_get(const struct strmap *, const char *key);
void	*strmap_del(struct strmap *, const char *key);

#endif
