/* SPDX-License-Identifier: ISC */
/*
 * fuzz_db_rec.c: packed records (db_rec_load, db_rec_pack).  Any value is
 * either refused or decodes to exactly one record without reading past it;
 * a decoded record packs and loads back to the same bytes; and the input,
 * taken as a record, survives a pack/load round trip.
 */
#include <string.h>

#include "db_rec.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct db_mapping	 rec, back;
	unsigned char		 packed[DB_REC_MAX];
	MDB_val			 v = { size, (void *)data };
	size_t			 n;

	if (size > 2 * sizeof(rec))
		return 0;
	if (db_rec_load(&v, &rec, sizeof(rec)) == 0) {
		n = db_rec_pack(&rec, sizeof(rec), packed);
		CHECK(n <= sizeof(rec));
		v = (MDB_val){ n, packed };
		CHECK(db_rec_load(&v, &back, sizeof(back)) == 0);
		CHECK(memcmp(&rec, &back, sizeof(rec)) == 0);
	}
	/* The input itself as a record of its own size (at most a mapping). */
	if (size > 0 && size <= sizeof(rec)) {
		n = db_rec_pack(data, size, packed);
		CHECK(n <= size);
		v = (MDB_val){ n, packed };
		CHECK(db_rec_load(&v, &back, size) == 0);
		CHECK(memcmp(data, &back, size) == 0);
	}
	return 0;
}
