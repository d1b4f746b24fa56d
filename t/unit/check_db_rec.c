/* SPDX-License-Identifier: ISC */
/* check_db_rec.c: packed live records (db_rec.c): round trips of typical
 * and random records, the raw fallback, old full-size records, and
 * malformed values that must be refused without reading past them. */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "db_rec.h"
#include "suites.h"

/* A tcp mapping packs to a fraction of its size and loads back equal. */
START_TEST(test_db_rec_mapping_roundtrip)
{
	struct db_mapping	m, back;
	unsigned char		buf[DB_REC_MAX];
	MDB_val			v;

	memset(&m, 0, sizeof(m));
	m.version = DB_RECORD_VERSION;
	m.remote_port = 23456;
	m.local_port = 22;
	strcpy(m.client_id, "0123456789abcdef0123456789abcdef");
	strcpy(m.client_name, "laptop");
	strcpy(m.name, "ssh");
	strcpy(m.local_ip, "127.0.0.1");
	m.since = 1764900000;
	m.worker_pid = 4242;
	m.bytes_in = 1ULL << 40;
	strcpy(m.type, "tcp");
	v.mv_size = db_rec_pack(&m, sizeof(m), buf);
	v.mv_data = buf;
	ck_assert_uint_lt(v.mv_size, 140);
	memset(&back, 0xa5, sizeof(back));
	ck_assert_int_eq(db_rec_mapping(&v, &back), 0);
	ck_assert_mem_eq(&back, &m, sizeof(m));
}
END_TEST

/* Random records, from mostly zero to no zero at all, survive the round
 * trip; one that packing cannot shorten is stored raw. */
START_TEST(test_db_rec_random)
{
	struct db_client	c, back;
	unsigned char		buf[DB_REC_MAX];
	MDB_val			v;

	srand(7);
	for (int round = 0; round < 2000; round++) {
		unsigned char *p = (unsigned char *)&c;
		int density = round % 10;	/* 0: all zero, 9: no zero */

		for (size_t i = 0; i < sizeof(c); i++)
			p[i] = density == 9 || rand() % 10 < density ? (unsigned char)(1 + rand() % 255) : 0;
		v.mv_size = db_rec_pack(&c, sizeof(c), buf);
		v.mv_data = buf;
		ck_assert_uint_le(v.mv_size, sizeof(c));
		if (density == 9)
			ck_assert_uint_eq(v.mv_size, sizeof(c));
		ck_assert_int_eq(db_rec_client(&v, &back), 0);
		ck_assert_mem_eq(&back, &c, sizeof(c));
	}
}
END_TEST

/* A full-size value (what older versions wrote) is the raw struct. */
START_TEST(test_db_rec_raw)
{
	struct db_client	c, back;
	MDB_val			v = { sizeof(c), &c };

	memset(&c, 0, sizeof(c));
	strcpy(c.id, "abc");
	ck_assert_int_eq(db_rec_client(&v, &back), 0);
	ck_assert_mem_eq(&back, &c, sizeof(c));
}
END_TEST

/* Values that do not decode to exactly one record are refused. */
START_TEST(test_db_rec_malformed)
{
	struct db_client	back;
	unsigned char		big[sizeof(back) + 1];
	unsigned char		trunc[] = { 0x05, 'a', 'b' };	/* literal past the end */
	unsigned char		zero[] = { 0x80 };		/* empty run */
	unsigned char		lit0[] = { 0x00 };		/* empty literal */
	unsigned char		shortrec[] = { 0x84 };		/* 4 of 296 bytes */
	unsigned char		over[8];			/* runs past the size */
	MDB_val			v;

	memset(big, 0, sizeof(big));
	v = (MDB_val){ sizeof(big), big };
	ck_assert_int_eq(db_rec_client(&v, &back), -1);
	v = (MDB_val){ sizeof(trunc), trunc };
	ck_assert_int_eq(db_rec_client(&v, &back), -1);
	v = (MDB_val){ sizeof(zero), zero };
	ck_assert_int_eq(db_rec_client(&v, &back), -1);
	v = (MDB_val){ sizeof(lit0), lit0 };
	ck_assert_int_eq(db_rec_client(&v, &back), -1);
	v = (MDB_val){ sizeof(shortrec), shortrec };
	ck_assert_int_eq(db_rec_client(&v, &back), -1);
	memset(over, 0xff, sizeof(over));	/* 8 x 127 zeros > 296 */
	v = (MDB_val){ sizeof(over), over };
	ck_assert_int_eq(db_rec_client(&v, &back), -1);
	v = (MDB_val){ 0, over };
	ck_assert_int_eq(db_rec_client(&v, &back), -1);
}
END_TEST

/* The packed live records suite. */
Suite *
suite_db_rec(void)
{
	Suite	*s = suite_create("db_rec");
	TCase	*tc = tcase_create("pack");

	tcase_add_test(tc, test_db_rec_mapping_roundtrip);
	tcase_add_test(tc, test_db_rec_random);
	tcase_add_test(tc, test_db_rec_raw);
	tcase_add_test(tc, test_db_rec_malformed);
	suite_add_tcase(s, tc);
	return s;
}
