/* SPDX-License-Identifier: ISC */
/* log.c: timestamped log lines on stderr: "TIME LEVEL PROC[PID]: message". */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static char		log_proc[64] = "gotunnel";
static enum log_level	log_min = LOG_LVL_INFO;

static const char *const log_names[] = { "debug", "info", "warn", "error" };

/* Sets the process name and the lowest level that is printed. */
void
log_init(const char *procname, enum log_level level)
{
	log_set_procname(procname);
	log_min = level;
}

/* Changes the lowest printed level (config reload, -v). */
void
log_set_level(enum log_level level)
{
	log_min = level;
}

/* Changes the name that prefixes each line (e.g. "worker 1"). */
void
log_set_procname(const char *procname)
{
	snprintf(log_proc, sizeof(log_proc), "%s", procname);
}

/*
 * Sends stderr (and so every log line) to path, appending; called again
 * on SIGUSR1 after logrotate moved the file.
 */
int
log_open_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	if (fd == -1)
		return -1;
	if (dup2(fd, STDERR_FILENO) == -1) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* Parses "debug", "info", "warn" or "error"; -1 if unknown. */
int
log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++) {
		if (strcasecmp(s, log_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (strcasecmp(s, "warning") == 0) {
		*out = LOG_LVL_WARN;
		return 0;
	}
	return -1;
}

/* Writes one line; err >= 0 appends strerror(err). */
static void
log_emit(enum log_level level, int err, const char *fmt, va_list ap)
{
	char		 msg[2048], ts[32];
	struct timeval	 tv;
	struct tm	 tm;

	if (level < log_min)
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* One fprintf per line so lines of concurrent processes do not interleave. */
	if (err >= 0)
		fprintf(stderr, "%s.%03ldZ %s %s[%d]: %s: %s\n", ts,
		    (long)(tv.tv_usec / 1000), log_names[level], log_proc,
		    (int)getpid(), msg, strerror(err));
	else
		fprintf(stderr, "%s.%03ldZ %s %s[%d]: %s\n", ts,
		    (long)(tv.tv_usec / 1000), log_names[level], log_proc,
		    (int)getpid(), msg);
	fflush(stderr);
}

#define LOG_BODY(level, err) do {		\
	va_list ap;				\
	va_start(ap, fmt);			\
	log_emit(level, err, fmt, ap);		\
	va_end(ap);				\
} while (0)

/* Debug detail, printed with log_level = debug or -v. */
void log_debug(const char *fmt, ...) { LOG_BODY(LOG_LVL_DEBUG, -1); }
/* Normal events: connects, registrations, disconnects. */
void log_info(const char *fmt, ...) { LOG_BODY(LOG_LVL_INFO, -1); }
/* A warning with the current errno appended. */
void log_warn(const char *fmt, ...) { int e = errno; LOG_BODY(LOG_LVL_WARN, e); }
/* A warning without errno. */
void log_warnx(const char *fmt, ...) { LOG_BODY(LOG_LVL_WARN, -1); }
/* An error without errno that the process survives. */
void log_errorx(const char *fmt, ...) { LOG_BODY(LOG_LVL_ERROR, -1); }

/* Logs an error with errno and exits 1. */
void
fatal(const char *fmt, ...)
{
	int e = errno;

	LOG_BODY(LOG_LVL_ERROR, e);
	exit(1);
}

/* Logs an error and exits 1. */
void
fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_ERROR, -1);
	exit(1);
}
