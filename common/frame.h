/* SPDX-License-Identifier: ISC */
/* frame.h: 4-byte big-endian length prefix + one JSON object per message. */
#ifndef GOTUNNEL_FRAME_H
#define GOTUNNEL_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct evbuffer;

#define FRAME_MAX	65536	/* JSON bytes, the header not counted */
#define FRAME_HDR	4

enum frame_result {
	FRAME_OK,	/* one frame copied out and drained */
	FRAME_AGAIN,	/* not complete yet */
	FRAME_BAD	/* bad length: *err says why; close the connection */
};

enum frame_result frame_pull(struct evbuffer *, char *buf, size_t *len,
		    const char **err);
int	frame_check_length(uint32_t, const char **err);
void	frame_put_header(unsigned char hdr[FRAME_HDR], size_t len);
uint32_t frame_get_header(const unsigned char hdr[FRAME_HDR]);
int	frame_push(struct evbuffer *, const char *json, size_t len);
struct bufferevent;
int	frame_send(struct bufferevent *, const char *json, size_t len);
ssize_t	frame_send_fd(int fd, const char *json, size_t len);
int	frame_write_fd(int fd, const char *json, size_t len);
int	frame_read_fd(int fd, char *buf, size_t *len, int timeout_ms);

#endif
