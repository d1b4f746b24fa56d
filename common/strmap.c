/* SPDX-License-Identifier: ISC */
/* strmap.c: chained hash map with FNV-1a, grown at load factor 1. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"
#include "xmalloc.h"

/* FNV-1a of a NUL-terminated key. */
static size_t
strmap_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s != '\0') {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ULL;
	}
	return (size_t)h;
}

/* Starts an empty map. */
void
strmap_init(struct strmap *m)
{
	m->nbuckets = 64;
	m->count = 0;
	m->buckets = xcalloc(m->nbuckets, sizeof(*m->buckets));
}

/* Frees the map's entries (not the values). */
void
strmap_free(struct strmap *m)
{
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct strmap_entry *e = m->buckets[i], *next;

		for (; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(m->buckets);
	m->buckets = NULL;
	m->nbuckets = m->count = 0;
}

/* Doubles the bucket array. */
static void
strmap_grow(struct strmap *m)
{
	size_t			 n = m->nbuckets * 2;
	struct strmap_entry	**b = xcalloc(n, sizeof(*b));

	for (size_t i = 0; i < m->nbuckets; i++) {
		struct strmap_entry *e = m->buckets[i], *next;

		for (; e != NULL; e = next) {
			size_t h = strmap_hash(e->key) % n;

			next = e->next;
			e->next = b[h];
			b[h] = e;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->nbuckets = n;
}

/* Adds key -> value; -1 if the key is already there. */
int
strmap_put(struct strmap *m, const char *key, void *value)
{
	struct strmap_entry	*e;
	size_t			 h, len = strlen(key);

	if (strmap_get(m, key) != NULL)
		return -1;
	if (m->count >= m->nbuckets)
		strmap_grow(m);
	h = strmap_hash(key) % m->nbuckets;
	e = xmalloc(sizeof(*e) + len + 1);
	memcpy(e->key, key, len + 1);
	e->value = value;
	e->next = m->buckets[h];
	m->buckets[h] = e;
	m->count++;
	return 0;
}

/* Looks a key up; NULL if absent. */
void *
strmap_get(const struct strmap *m, const char *key)
{
	struct strmap_entry *e = m->buckets[strmap_hash(key) % m->nbuckets];

	for (; e != NULL; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e->value;
	return NULL;
}

/* Removes a key and returns its value (NULL if absent). */
void *
strmap_del(struct strmap *m, const char *key)
{
	struct strmap_entry **pp = &m->buckets[strmap_hash(key) % m->nbuckets];

	for (; *pp != NULL; pp = &(*pp)->next) {
		struct strmap_entry	*e = *pp;
		void			*v = e->value;

		if (strcmp(e->key, key) == 0) {
			*pp = e->next;
			free(e);
			m->count--;
			return v;
		}
	}
	return NULL;
}
