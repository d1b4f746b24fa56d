/* SPDX-License-Identifier: ISC */
/*
 * Records stored packed: the live tables' struct db_mapping, struct
 * db_client and struct db_conn (one per held public connection), and the
 * history's struct db_hist_session and struct db_hist_conn (written when a
 * session or a public connection opens).  They are
 * mostly zero padding (fixed 40- and 64-byte string fields holding a few
 * characters, a 512-byte domain list that a tcp mapping leaves empty), and
 * every worker of a master maps the pages of these tables: at 50,000
 * clients the padding alone was ~45 MiB of LMDB pages, counted once per
 * worker.  They are stored with runs of zero bytes squeezed out (a tcp
 * mapping: 800 -> ~90 bytes, a client 296 -> ~110, a session history
 * record 336 -> ~100, a live connection 144 -> ~70, its history record
 * 384 -> ~110).
 *
 * Encoding: a sequence of tokens, each one byte n followed by data:
 *   0x01..0x7f  n literal bytes follow;
 *   0x81..0xff  n & 0x7f zero bytes (no data).
 * A record whose packed form would not be shorter is stored as it is, so a
 * value of exactly sizeof(struct) bytes is always the raw struct (which is
 * also what older versions wrote), any other size is packed.
 */
#ifndef GOTUNNEL_DB_REC_H
#define GOTUNNEL_DB_REC_H

#include <stddef.h>
#include <lmdb.h>

#include "db.h"

/* Room for a packed record of size bytes (never more than the raw size). */
#define DB_REC_MAX	sizeof(struct db_mapping)

size_t	db_rec_pack(const void *rec, size_t size, unsigned char *out);
int	db_rec_load(const MDB_val *v, void *out, size_t size);
int	db_rec_mapping(const MDB_val *v, struct db_mapping *out);
int	db_rec_client(const MDB_val *v, struct db_client *out);
int	db_rec_hist_sess(const MDB_val *v, struct db_hist_session *out);
int	db_rec_conn(const MDB_val *v, struct db_conn *out);
int	db_rec_hist_conn(const MDB_val *v, struct db_hist_conn *out);

#endif
