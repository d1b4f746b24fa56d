/* SPDX-License-Identifier: ISC */
/* fuzz.h: what every libFuzzer harness in t/fuzz/ shares. */
#ifndef GOTUNNEL_FUZZ_H
#define GOTUNNEL_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

/* Aborts (a libFuzzer crash) when an invariant does not hold. */
#define CHECK(x)	do { if (!(x)) abort(); } while (0)


/* Copies the input into a NUL-terminated heap string (NULs stay inside). */
static inline char *
fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	CHECK(s != NULL);
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/*
 * Puts the input in an anonymous memory file and names it in path
 * (/proc/self/fd/N), so loaders that take a path read exactly these
 * bytes without touching the disk; returns the fd to close.
 */
static inline int
fuzz_memfd(const uint8_t *data, size_t size, char *path, size_t pathlen)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC);

	CHECK(fd != -1);
	CHECK(size == 0 || write(fd, data, size) == (ssize_t)size);
	snprintf(path, pathlen, "/proc/self/fd/%d", fd);
	return fd;
}

#endif
