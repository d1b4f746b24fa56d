/* SPDX-License-Identifier: ISC */
/*
 * static.c: the console's files from [admin] assets.  Kore's filemap is
 * not used: its root check compares string prefixes (a sibling directory
 * whose name starts with the root's name escapes).  Here the decoded path
 * may not contain "." or ".." segments, hidden names or control bytes,
 * and the resolved file must lie under the canonical assets directory.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "module.h"

#define STATIC_FILE_MAX	(32 * 1024 * 1024)

static const struct {
	const char	*ext;
	const char	*type;
} static_types[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".js", "text/javascript; charset=utf-8" },
	{ ".mjs", "text/javascript; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" },
	{ ".json", "application/json; charset=utf-8" },
	{ ".svg", "image/svg+xml" },
	{ ".png", "image/png" },
	{ ".jpg", "image/jpeg" },
	{ ".ico", "image/x-icon" },
	{ ".woff", "font/woff" },
	{ ".woff2", "font/woff2" },
	{ ".txt", "text/plain; charset=utf-8" },
	{ ".map", "application/json; charset=utf-8" },
	{ ".webmanifest", "application/manifest+json" },
};

/* The Content-Type for a file name. */
static const char *
static_type(const char *path)
{
	const char	*dot = strrchr(path, '.');
	size_t		 i;

	if (dot != NULL && strchr(dot, '/') == NULL) {
		for (i = 0; i < sizeof(static_types) / sizeof(static_types[0]);
		    i++) {
			if (strcmp(dot, static_types[i].ext) == 0)
				return static_types[i].type;
		}
	}
	return "application/octet-stream";
}

/* Sends a plain 404 with the security headers. */
static int
static_404(struct admin_ctx *ctx)
{
	admin_headers(ctx->req, 0);
	http_response_header(ctx->req, "content-type",
	    "text/plain; charset=utf-8");
	http_response(ctx->req, 404, "not found\n", 10);
	return KORE_RESULT_OK;
}

/* Opens rel under the assets directory; -1 unless a regular file inside. */
static int
static_open(const char *rel, struct stat *st, char *real, size_t size)
{
	char	path[PATH_MAX], resolved[PATH_MAX];
	size_t	rootlen = strlen(admin_conf.assets);
	int	fd;

	if ((size_t)snprintf(path, sizeof(path), "%s%s", admin_conf.assets,
	    rel) >= sizeof(path))
		return -1;
	if (realpath(path, resolved) == NULL)
		return -1;
	/* Inside the root means the root plus '/', not just its prefix. */
	if (strncmp(resolved, admin_conf.assets, rootlen) != 0 ||
	    resolved[rootlen] != '/')
		return -1;
	if ((fd = open(resolved, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return -1;
	if (fstat(fd, st) == -1 || !S_ISREG(st->st_mode) ||
	    st->st_size > STATIC_FILE_MAX) {
		close(fd);
		return -1;
	}
	snprintf(real, size, "%s", resolved);
	return fd;
}

/* GET any path outside /api: a console file, or index.html for a route. */
int
static_serve(struct admin_ctx *ctx)
{
	struct http_request	*req = ctx->req;
	struct stat		 st;
	char			 rel[PATH_MAX], real[PATH_MAX];
	const char		*last;
	char			*data;
	ssize_t			 r;
	size_t			 off = 0;
	int			 fd = -1;

	if (req->method != HTTP_METHOD_GET && req->method != HTTP_METHOD_HEAD) {
		admin_headers(req, 0);
		http_response_header(req, "allow", "GET, HEAD");
		http_response(req, 405, NULL, 0);
		return KORE_RESULT_OK;
	}
	if (url_path_clean(req->path, rel, sizeof(rel)) == -1)
		return static_404(ctx);
	last = strrchr(rel, '/');
	if (strcmp(rel, "/") != 0 && rel[strlen(rel) - 1] != '/')
		fd = static_open(rel, &st, real, sizeof(real));
	/* Console routes (no extension in the last segment): the app. */
	if (fd == -1 && last != NULL && strchr(last, '.') == NULL)
		fd = static_open("/index.html", &st, real, sizeof(real));
	if (fd == -1)
		return static_404(ctx);

	data = kore_malloc((size_t)st.st_size + 1);
	while (off < (size_t)st.st_size) {
		r = read(fd, data + off, (size_t)st.st_size - off);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		off += (size_t)r;
	}
	close(fd);
	admin_headers(req, 0);
	http_response_header(req, "content-type", static_type(real));
	/* Vite puts content-hashed names under assets/: cache them forever. */
	if (strncmp(rel, "/assets/", 8) == 0 && strcmp(real + strlen(real) -
	    5, ".html") != 0)
		http_response_header(req, "cache-control",
		    "public, max-age=31536000, immutable");
	else
		http_response_header(req, "cache-control", "no-cache");
	http_response(req, 200, data, off);
	kore_free(data);
	return KORE_RESULT_OK;
}
