/* SPDX-License-Identifier: ISC */
/* frame.c: the length-prefix codec; lengths are checked before any payload is read. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "frame.h"

/* Accepts 1..FRAME_MAX; sets *err for anything else. */
int
frame_check_length(uint32_t len, const char **err)
{
	if (len == 0) {
		*err = "empty message (length 0)";
		return -1;
	}
	if (len > FRAME_MAX) {
		*err = "message too long (limit 65536 bytes)";
		return -1;
	}
	return 0;
}

/* Writes the 4-byte big-endian length of a frame. */
void
frame_put_header(unsigned char hdr[FRAME_HDR], size_t len)
{
	hdr[0] = (len >> 24) & 0xff;
	hdr[1] = (len >> 16) & 0xff;
	hdr[2] = (len >> 8) & 0xff;
	hdr[3] = len & 0xff;
}

/* Reads the 4-byte big-endian length of a frame. */
uint32_t
frame_get_header(const unsigned char hdr[FRAME_HDR])
{
	return (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
	    (uint32_t)hdr[2] << 8 | hdr[3];
}

/*
 * Takes one complete frame from in into buf (FRAME_MAX + 1 bytes, NUL
 * terminated for convenience; the payload may itself contain NUL bytes).
 */
enum frame_result
frame_pull(struct evbuffer *in, char *buf, size_t *len, const char **err)
{
	unsigned char	hdr[FRAME_HDR];
	uint32_t	n;

	if (evbuffer_get_length(in) < FRAME_HDR)
		return FRAME_AGAIN;
	evbuffer_copyout(in, hdr, FRAME_HDR);
	n = frame_get_header(hdr);
	if (frame_check_length(n, err) == -1)
		return FRAME_BAD;
	if (evbuffer_get_length(in) < FRAME_HDR + (size_t)n)
		return FRAME_AGAIN;
	evbuffer_drain(in, FRAME_HDR);
	evbuffer_remove(in, buf, n);
	buf[n] = '\0';
	*len = n;
	return FRAME_OK;
}

/* Appends header + payload to out. */
int
frame_push(struct evbuffer *out, const char *json, size_t len)
{
	unsigned char hdr[FRAME_HDR];

	if (len == 0 || len > FRAME_MAX)
		return -1;
	frame_put_header(hdr, len);
	if (evbuffer_add(out, hdr, FRAME_HDR) == -1 ||
	    evbuffer_add(out, json, len) == -1)
		return -1;
	return 0;
}

/*
 * Sends one frame in a single send() on a non-blocking socket; returns
 * the bytes the socket took (header included), or -1 on an error other
 * than EAGAIN.  A small frame on a fresh socket always fits.
 */
ssize_t
frame_send_fd(int fd, const char *json, size_t len)
{
	unsigned char	buf[FRAME_HDR + FRAME_MAX];
	ssize_t		n;

	if (len == 0 || len > FRAME_MAX)
		return -1;
	frame_put_header(buf, len);
	memcpy(buf + FRAME_HDR, json, len);
	do
		n = send(fd, buf, FRAME_HDR + len, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	if (n == -1 && errno == EAGAIN)
		n = 0;
	return n;
}

/*
 * Sends a frame on a bufferevent's socket at once when nothing is queued
 * before it; only what the socket does not take is queued.  This spares
 * the EPOLLOUT on/off pair (two epoll_ctl and a wakeup) per message.
 * Plain socket bufferevents only: a TLS one must get frame_push().
 */
int
frame_send(struct bufferevent *bev, const char *json, size_t len)
{
	struct evbuffer	*out = bufferevent_get_output(bev);
	unsigned char	 hdr[FRAME_HDR];
	ssize_t		 n;
	int		 fd = bufferevent_getfd(bev);

	if (len == 0 || len > FRAME_MAX)
		return -1;
	if (evbuffer_get_length(out) > 0 || fd == -1)
		return frame_push(out, json, len);
	if ((n = frame_send_fd(fd, json, len)) < 0)
		n = 0;		/* an error the bufferevent will report */
	if ((size_t)n == FRAME_HDR + len)
		return 0;
	if (n < FRAME_HDR) {
		frame_put_header(hdr, len);
		if (evbuffer_add(out, hdr + n, FRAME_HDR - (size_t)n) == -1)
			return -1;
		n = FRAME_HDR;
	}
	return evbuffer_add(out, json + (n - FRAME_HDR), len - (size_t)(n - FRAME_HDR));
}

/* Writes all of buf to a blocking fd. */
static int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Writes one frame to a blocking fd (gotunnelctl, tests). */
int
frame_write_fd(int fd, const char *json, size_t len)
{
	unsigned char hdr[FRAME_HDR];

	if (len == 0 || len > FRAME_MAX)
		return -1;
	frame_put_header(hdr, len);
	if (write_all(fd, hdr, FRAME_HDR) == -1 || write_all(fd, json, len) == -1)
		return -1;
	return 0;
}

/* Reads exactly len bytes, waiting at most timeout_ms for each chunk. */
static int
read_all(int fd, void *buf, size_t len, int timeout_ms)
{
	char *p = buf;

	while (len > 0) {
		struct pollfd	pfd = { .fd = fd, .events = POLLIN };
		ssize_t		n;

		if (poll(&pfd, 1, timeout_ms) <= 0)
			return -1;
		n = read(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads one frame from a fd into buf (FRAME_MAX + 1 bytes). */
int
frame_read_fd(int fd, char *buf, size_t *len, int timeout_ms)
{
	unsigned char	 hdr[FRAME_HDR];
	uint32_t	 n;
	const char	*err;

	if (read_all(fd, hdr, FRAME_HDR, timeout_ms) == -1)
		return -1;
	n = frame_get_header(hdr);
	if (frame_check_length(n, &err) == -1)
		return -1;
	if (read_all(fd, buf, n, timeout_ms) == -1)
		return -1;
	buf[n] = '\0';
	*len = n;
	return 0;
}
