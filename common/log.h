/* SPDX-License-Identifier: ISC */
/* log.h: one log API for every gotunnel process (stderr lines for journald). */
#ifndef GOTUNNEL_LOG_H
#define GOTUNNEL_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };

void	log_init(const char *procname, enum log_level);
void	log_set_level(enum log_level);
void	log_set_procname(const char *);
int	log_level_parse(const char *, enum log_level *);
int	log_open_file(const char *path);
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_errorx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
