/* SPDX-License-Identifier: ISC */
/* Live records stored with their zero runs squeezed out (db_rec.h). */
#include <string.h>

#include "db_rec.h"

#define REC_ZERO	0x80	/* token flag: a run of zero bytes */
#define REC_RUN_MAX	0x7f	/* longest run or literal of one token */

/*
 * Packs rec (size bytes, at most DB_REC_MAX) into out, which has room for
 * size bytes; returns the packed length, or size with out holding the raw
 * record when packing would not make it shorter.
 */
size_t
db_rec_pack(const void *rec, size_t size, unsigned char *out)
{
	const unsigned char	*p = rec;
	size_t			 i = 0, o = 0, n;

	while (i < size) {
		if (p[i] == 0) {
			for (n = 0; i + n < size && n < REC_RUN_MAX &&
			    p[i + n] == 0; n++)
				;
			if (o + 1 >= size)
				goto raw;
			out[o++] = REC_ZERO | (unsigned char)n;
		} else {
			/* A literal ends at a run of two zeros or more. */
			for (n = 0; i + n < size && n < REC_RUN_MAX &&
			    (p[i + n] != 0 || (i + n + 1 < size &&
			    p[i + n + 1] != 0)); n++)
				;
			if (o + 1 + n >= size)
				goto raw;
			out[o++] = (unsigned char)n;
			memcpy(out + o, p + i, n);
			o += n;
		}
		i += n;
	}
	return o;
raw:
	memcpy(out, rec, size);
	return size;
}

/*
 * Copies a stored record (raw or packed) into out, size bytes; -1 if the
 * value is not a well-formed record of that size.
 */
int
db_rec_load(const MDB_val *v, void *out, size_t size)
{
	const unsigned char	*p = v->mv_data;
	unsigned char		*q = out;
	size_t			 i = 0, o = 0, n;

	if (v->mv_size == size) {
		memcpy(out, v->mv_data, size);
		return 0;
	}
	if (v->mv_size > size)
		return -1;
	while (i < v->mv_size) {
		n = p[i] & REC_RUN_MAX;
		if (n == 0 || o + n > size)
			return -1;
		if (p[i++] & REC_ZERO) {
			memset(q + o, 0, n);
		} else {
			if (i + n > v->mv_size)
				return -1;
			memcpy(q + o, p + i, n);
			i += n;
		}
		o += n;
	}
	return o == size ? 0 : -1;
}

/* Loads a mappings record. */
int
db_rec_mapping(const MDB_val *v, struct db_mapping *out)
{
	return db_rec_load(v, out, sizeof(*out));
}

/* Loads a hist_sess record. */
int
db_rec_hist_sess(const MDB_val *v, struct db_hist_session *out)
{
	return db_rec_load(v, out, sizeof(*out));
}

/* Loads a conns record. */
int
db_rec_conn(const MDB_val *v, struct db_conn *out)
{
	return db_rec_load(v, out, sizeof(*out));
}

/* Loads a hist_conn record. */
int
db_rec_hist_conn(const MDB_val *v, struct db_hist_conn *out)
{
	return db_rec_load(v, out, sizeof(*out));
}

/* Loads a clients record. */
int
db_rec_client(const MDB_val *v, struct db_client *out)
{
	return db_rec_load(v, out, sizeof(*out));
}
