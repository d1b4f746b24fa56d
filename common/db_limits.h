/* SPDX-License-Identifier: ISC */
/*
 * db_limits.h: the sizes of names and ids in records and messages.
 * Apart from db.h so that the client (which has no LMDB) can use them.
 */
#ifndef GOTUNNEL_DB_LIMITS_H
#define GOTUNNEL_DB_LIMITS_H

#define DB_ID_LEN		40	/* client_id: 32 hex chars + NUL, padded */
#define DB_NAME_LEN		64
#define DB_ADDR_LEN		64	/* "[v6addr]:port" fits */
#define DB_REASON_LEN		64
#define DB_USER_LEN		64
#define DB_HASH_LEN		128	/* crypto_pwhash_STRBYTES */

#endif
