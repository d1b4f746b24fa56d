/* SPDX-License-Identifier: ISC */
/*
 * httpc.c: JSON POSTs with libcurl's multi interface driven by the
 * process's libevent loop (CURLMOPT_SOCKETFUNCTION and
 * CURLMOPT_TIMERFUNCTION), so a slow server never blocks the loop: alert
 * webhooks from the master, server-plugin calls from the workers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <sodium.h>

#include "log.h"
#include "server.h"
#include "xmalloc.h"

#define CONNECT_TIMEOUT		5L
#define MAX_INFLIGHT		1024	/* POSTs at once, per process */
#define ANSWER_MAX		(64 * 1024)	/* answer bytes kept */

/* One POST in flight; owned by the multi handle until it completes. */
struct http_req {
	TAILQ_ENTRY(http_req)	 entry;
	CURL			*easy;
	struct curl_slist	*headers;
	char			*body;
	httpc_cb		 cb;
	void			*arg;
	char			*answer;	/* NUL-terminated, at most ANSWER_MAX */
	size_t			 answer_len;
	int			 answer_cut;	/* more came than ANSWER_MAX */
	char			 errbuf[CURL_ERROR_SIZE];
};

/* libevent's view of one of curl's sockets. */
struct http_sock {
	struct event	ev;
};

static CURLM		*multi;
static struct event_base *hbase;
static struct event	 timer_ev;
static int		 inflight;
static TAILQ_HEAD(, http_req) reqs = TAILQ_HEAD_INITIALIZER(reqs);

/* Frees a request that curl no longer holds. */
static void
httpc_req_free(struct http_req *r)
{
	TAILQ_REMOVE(&reqs, r, entry);
	inflight--;
	curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	free(r->body);
	free(r->answer);
	free(r);
}

/* Completes finished transfers: status, callback, free. */
static void
httpc_reap(void)
{
	CURLMsg		*msg;
	int		 left;

	while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
		struct http_req	*r = NULL;
		long		 status = 0;
		CURLcode	 res;

		if (msg->msg != CURLMSG_DONE)
			continue;
		res = msg->data.result;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
		curl_multi_remove_handle(multi, msg->easy_handle);
		if (r == NULL)
			continue;
		r->cb(r->arg, res == CURLE_OK && status >= 200 && status < 300 &&
		    !r->answer_cut, status, res != CURLE_OK ? (r->errbuf[0] ?
		    r->errbuf : curl_easy_strerror(res)) : r->answer_cut ?
		    "answer too long" : "", r->answer ? r->answer : "",
		    r->answer_len);
		httpc_req_free(r);
	}
}

/* A socket of curl's is ready. */
static void
httpc_event(evutil_socket_t fd, short what, void *arg)
{
	int running, action = ((what & EV_READ) ? CURL_CSELECT_IN : 0) |
	    ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);

	curl_multi_socket_action(multi, fd, action, &running);
	httpc_reap();
}

/* curl's timeout expired. */
static void
httpc_timeout(evutil_socket_t fd, short what, void *arg)
{
	int running;

	curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
	httpc_reap();
}

/* CURLMOPT_SOCKETFUNCTION: watch, rewatch or forget one socket. */
static int
httpc_sockcb(CURL *e, curl_socket_t s, int what, void *userp, void *sockp)
{
	struct http_sock	*hs = sockp;
	short			 kind;

	if (what == CURL_POLL_REMOVE) {
		if (hs != NULL) {
			event_del(&hs->ev);
			free(hs);
			curl_multi_assign(multi, s, NULL);
		}
		return 0;
	}
	if (hs == NULL) {
		hs = xcalloc(1, sizeof(*hs));
		curl_multi_assign(multi, s, hs);
	} else
		event_del(&hs->ev);
	kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
	    ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
	event_assign(&hs->ev, hbase, s, kind, httpc_event, NULL);
	event_add(&hs->ev, NULL);
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: (re)arms or stops the single timer. */
static int
httpc_timercb(CURLM *m, long timeout_ms, void *userp)
{
	struct timeval tv;

	if (timeout_ms < 0) {
		evtimer_del(&timer_ev);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	evtimer_add(&timer_ev, &tv);
	return 0;
}

/* Keeps the first ANSWER_MAX bytes of the answer (the rest is noted). */
static size_t
httpc_answer(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct http_req	*r = userdata;
	size_t		 n = size * nmemb, room = ANSWER_MAX - r->answer_len;

	if (n > room) {
		r->answer_cut = 1;
		n = room;
	}
	if (n > 0) {
		r->answer = xrealloc(r->answer, r->answer_len + n + 1);
		memcpy(r->answer + r->answer_len, ptr, n);
		r->answer_len += n;
		r->answer[r->answer_len] = '\0';
	}
	return size * nmemb;
}

/* Sets up the multi handle on base; -1 if libcurl cannot start. */
int
httpc_init(struct event_base *base)
{
	if (multi != NULL)
		return 0;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (multi = curl_multi_init()) == NULL) {
		log_warnx("libcurl failed to start");
		return -1;
	}
	hbase = base;
	evtimer_assign(&timer_ev, base, httpc_timeout, NULL);
	curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, httpc_sockcb);
	curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, httpc_timercb);
	return 0;
}

/* Writes "sha256=<hex HMAC-SHA256(secret, body)>" into out. */
static void
httpc_sign(const char *secret, const char *body, size_t len, char *out,
    size_t outlen)
{
	crypto_auth_hmacsha256_state	st;
	unsigned char			mac[crypto_auth_hmacsha256_BYTES];
	char				hex[2 * sizeof(mac) + 1];

	crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret,
	    strlen(secret));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
	snprintf(out, outlen, "X-Gotunnel-Signature: sha256=%s", hex);
	sodium_memzero(&st, sizeof(st));
}

/*
 * Starts a JSON POST of body to url within timeout_ms (signed when secret
 * is not empty; https is verified against ca_file when set, else the
 * system store); cb runs once with the outcome and the answer.  -1 when it
 * cannot start (cb not called).
 */
int
httpc_post(const char *url, const char *ca_file, const char *secret,
    const char *body, size_t len, long timeout_ms, httpc_cb cb, void *arg)
{
	struct http_req	*r;
	char		 sig[128];

	if (multi == NULL || inflight >= MAX_INFLIGHT)
		return -1;
	r = xcalloc(1, sizeof(*r));
	if ((r->easy = curl_easy_init()) == NULL) {
		free(r);
		return -1;
	}
	r->body = xmalloc(len + 1);
	memcpy(r->body, body, len);
	r->body[len] = '\0';
	r->cb = cb;
	r->arg = arg;
	r->headers = curl_slist_append(NULL, "Content-Type: application/json");
	if (secret[0] != '\0') {
		httpc_sign(secret, body, len, sig, sizeof(sig));
		r->headers = curl_slist_append(r->headers, sig);
	}
	r->headers = curl_slist_append(r->headers, "Expect:");
	curl_easy_setopt(r->easy, CURLOPT_URL, url);
	curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->body);
	curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE, (long)len);
	curl_easy_setopt(r->easy, CURLOPT_USERAGENT, "gotunnel/" GOTUNNEL_VERSION);
	curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT);
	curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, httpc_answer);
	curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
	if (ca_file[0] != '\0')
		curl_easy_setopt(r->easy, CURLOPT_CAINFO, ca_file);
	if (curl_multi_add_handle(multi, r->easy) != CURLM_OK) {
		curl_easy_cleanup(r->easy);
		curl_slist_free_all(r->headers);
		free(r->body);
		free(r);
		return -1;
	}
	TAILQ_INSERT_TAIL(&reqs, r, entry);
	inflight++;
	return 0;
}

/* Tells whether a POST can start now. */
int
httpc_room(void)
{
	return multi != NULL && inflight < MAX_INFLIGHT;
}

/* Ends the POSTs in flight (their callbacks see a failure) and frees libcurl. */
void
httpc_free(void)
{
	struct http_req *r;

	if (multi == NULL)
		return;
	while ((r = TAILQ_FIRST(&reqs)) != NULL) {
		curl_multi_remove_handle(multi, r->easy);
		r->cb(r->arg, 0, 0, "stopping", "", 0);
		httpc_req_free(r);
	}
	evtimer_del(&timer_ev);
	curl_multi_cleanup(multi);
	multi = NULL;
	curl_global_cleanup();
}
