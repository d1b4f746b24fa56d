/* SPDX-License-Identifier: ISC */
/*
 * fuzz_frame.c: the frame decoder (frame_pull) fed one byte stream in
 * arbitrary chunkings.  The input is [n][n chunk sizes][stream]: the
 * stream is cut into pieces of those sizes (cycling), and the frames
 * that come out must be exactly those of the stream fed at once, with
 * the same verdict (bad length or not) at the same place.  Each frame
 * must also survive frame_push and a pull back, and the stream read
 * through a pipe by frame_read_fd must give the same frames.
 */
#include <fcntl.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "frame.h"
#include "fuzz.h"

#define MAX_FRAMES	256

/* The frames one decoding produced: lengths and a digest of each. */
struct frames {
	size_t		n;
	size_t		len[MAX_FRAMES];
	uint64_t	sum[MAX_FRAMES];
	int		bad;		/* ended with FRAME_BAD */
	size_t		left;		/* bytes left undecoded at the end */
};

/* FNV-1a of a frame's payload. */
static uint64_t
digest(const char *p, size_t len)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
	return h;
}

/* Pulls every complete frame from in into f; 0 to go on, -1 when done. */
static int
drain(struct evbuffer *in, struct frames *f)
{
	static char	 buf[FRAME_MAX + 1], back[FRAME_MAX + 1];
	size_t		 len, blen;
	const char	*err;

	for (;;) {
		size_t before = evbuffer_get_length(in);
		enum frame_result r;

		err = NULL;
		r = frame_pull(in, buf, &len, &err);
		if (r == FRAME_AGAIN) {
			CHECK(evbuffer_get_length(in) == before);
			return 0;
		}
		if (r == FRAME_BAD) {
			CHECK(err != NULL && err[0] != '\0');
			CHECK(evbuffer_get_length(in) == before);
			f->bad = 1;
			return -1;
		}
		CHECK(r == FRAME_OK && len >= 1 && len <= FRAME_MAX);
		CHECK(evbuffer_get_length(in) == before - FRAME_HDR - len);
		CHECK(buf[len] == '\0');
		if (f->n == MAX_FRAMES)
			return -1;
		f->len[f->n] = len;
		f->sum[f->n] = digest(buf, len);
		f->n++;
		/* The encoder's frame of these bytes decodes to them. */
		{
			struct evbuffer *o = evbuffer_new();

			CHECK(o != NULL && frame_push(o, buf, len) == 0);
			CHECK(frame_pull(o, back, &blen, &err) == FRAME_OK);
			CHECK(blen == len && memcmp(back, buf, len) == 0);
			CHECK(evbuffer_get_length(o) == 0);
			evbuffer_free(o);
		}
	}
}

/* Decodes the stream cut into pieces of the given sizes (cycling). */
static void
decode(const uint8_t *s, size_t size, const uint8_t *cuts, size_t ncuts,
    struct frames *f)
{
	struct evbuffer	*in = evbuffer_new();
	size_t		 off = 0, i = 0;

	CHECK(in != NULL);
	memset(f, 0, sizeof(*f));
	while (off < size) {
		size_t step = ncuts ? (size_t)cuts[i++ % ncuts] + 1 : size;

		if (step > size - off)
			step = size - off;
		evbuffer_add(in, s + off, step);
		off += step;
		if (drain(in, f) == -1)
			break;
	}
	f->left = evbuffer_get_length(in);
	evbuffer_free(in);
}

/* Reads the stream through a pipe with frame_read_fd; compares with f. */
static void
read_fd(const uint8_t *s, size_t size, const struct frames *f)
{
	static char	buf[FRAME_MAX + 1];
	size_t		len, n = 0;
	int		p[2];

	/* Small enough to sit in the pipe without a second thread. */
	if (size > 60000 || pipe2(p, O_CLOEXEC) == -1)
		return;
	CHECK(write(p[1], s, size) == (ssize_t)size);
	close(p[1]);
	while (n < f->n && frame_read_fd(p[0], buf, &len, 1000) == 0) {
		CHECK(len == f->len[n] && digest(buf, len) == f->sum[n]);
		n++;
	}
	CHECK(n == f->n);
	close(p[0]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frames	 whole, cut;
	const uint8_t	*cuts;
	size_t		 ncuts;

	if (size == 0)
		return 0;
	ncuts = data[0] % 32;
	if (ncuts > size - 1)
		ncuts = size - 1;
	cuts = data + 1;
	data += 1 + ncuts;
	size -= 1 + ncuts;

	decode(data, size, NULL, 0, &whole);
	decode(data, size, cuts, ncuts, &cut);
	/* Chunking changes nothing: same frames, same verdict, same rest. */
	CHECK(cut.n == whole.n && cut.bad == whole.bad);
	for (size_t i = 0; i < whole.n; i++)
		CHECK(cut.len[i] == whole.len[i] && cut.sum[i] == whole.sum[i]);
	/* A bad length stops the feed early; otherwise the same tail is left. */
	if (whole.n < MAX_FRAMES && !whole.bad)
		CHECK(cut.left == whole.left);
	read_fd(data, size, &whole);
	return 0;
}
