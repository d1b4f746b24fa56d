/* SPDX-License-Identifier: ISC */
/*
 * fuzz_proto.c: libFuzzer harness for the wire format.  The input is fed
 * both as one message body to proto_parse() and as a byte stream to
 * frame_pull() in chunks, each complete frame then parsed.  Besides
 * crashes and sanitizer reports it checks the codec's promises:
 * frames are 1..65536 bytes, a parsed message re-encodes to a message
 * that parses back to the same members.
 *
 *   make fuzz FUZZ_ONLY=proto    # builds build/fuzz/fuzz_proto, runs FUZZ_SECONDS s
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "frame.h"
#include "fuzz.h"
#include "proto.h"

/* Parses, and if that works re-encodes and compares member by member. */
static void
parse_roundtrip(const char *p, size_t len)
{
	static char	out[FRAME_MAX];
	struct msg	m, back;
	char		err[256];
	size_t		olen;

	if (proto_parse(p, len, &m, err, sizeof(err)) == -1) {
		CHECK(err[0] != '\0' && strlen(err) < sizeof(err));
		return;
	}
	CHECK(m.type > MSG_NONE && m.type < MSG_NTYPES);
	CHECK(MSG_HAS(&m, F_TYPE));
	CHECK(memchr(p, '\0', len) == NULL);
	if (MSG_HAS(&m, F_LOCAL_PORT))
		CHECK(m.local_port >= 1 && m.local_port <= 65535);
	if (MSG_HAS(&m, F_REMOTE_PORT))
		CHECK(m.remote_port >= 0 && m.remote_port <= 65535);
	CHECK(proto_encode(&m, out, &olen) == 0);
	CHECK(olen > 0 && olen <= FRAME_MAX);
	CHECK(proto_parse(out, olen, &back, err, sizeof(err)) == 0);
	CHECK(back.type == m.type && back.present == m.present);
	CHECK(strcmp(back.token, m.token) == 0 && strcmp(back.name, m.name) == 0);
	CHECK(strcmp(back.client_id, m.client_id) == 0);
	CHECK(back.local_port == m.local_port && back.remote_port == m.remote_port);
	CHECK(back.pool_count == m.pool_count);
}

/* Feeds the bytes to frame_pull in chunks whose sizes come from the input. */
static void
frame_stream(const uint8_t *data, size_t size)
{
	static char	 buf[FRAME_MAX + 1];
	struct evbuffer	*in = evbuffer_new();
	size_t		 off = 0, step, len;
	const char	*err;
	int		 bad = 0;

	CHECK(in != NULL);
	step = size ? (size_t)data[0] % 17 + 1 : 1;
	while (off < size && !bad) {
		size_t n = size - off < step ? size - off : step;

		evbuffer_add(in, data + off, n);
		off += n;
		for (;;) {
			size_t before = evbuffer_get_length(in);
			enum frame_result r;

			err = NULL;
			r = frame_pull(in, buf, &len, &err);
			if (r == FRAME_AGAIN) {
				CHECK(evbuffer_get_length(in) == before);
				break;
			}
			if (r == FRAME_BAD) {
				CHECK(err != NULL);
				bad = 1;	/* the connection would close */
				break;
			}
			CHECK(r == FRAME_OK && len >= 1 && len <= FRAME_MAX);
			CHECK(evbuffer_get_length(in) == before - 4 - len);
			CHECK(buf[len] == '\0');
			parse_roundtrip(buf, len);
		}
	}
	evbuffer_free(in);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size <= FRAME_MAX)
		parse_roundtrip((const char *)data, size);
	frame_stream(data, size);
	return 0;
}
