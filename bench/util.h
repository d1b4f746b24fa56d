/* SPDX-License-Identifier: ISC */
/* util.h: small helpers shared by the benchmark tools in bench/. */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

/* Monotonic clock in nanoseconds. */
uint64_t util_now_ns(void);
/* Raise the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit. */
long util_raise_nofile(void);
/* Fill sin with 127.0.0.1-style ip and port; exits on a bad address. */
void util_addr(struct sockaddr_in *sin, const char *ip, int port);
/* Sort samples in place and return the value at quantile q (0..1). */
uint64_t util_quantile(uint64_t *v, size_t n, double q);
/* Write exactly len bytes (blocking fd); 0 or -1. */
int util_write_all(int fd, const void *buf, size_t len);
/* Read exactly len bytes (blocking fd); 0, or -1 on error/EOF. */
int util_read_all(int fd, void *buf, size_t len);
/* Set TCP_NODELAY on fd. */
void util_nodelay(int fd);
/* Print a message with errno and exit 1. */
void util_die(const char *what) __attribute__((noreturn));

#endif
