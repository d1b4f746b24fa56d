/* SPDX-License-Identifier: ISC */
/*
 * alert_http.c: webhook POSTs from the master with libcurl's multi
 * interface driven by the master's libevent loop (CURLMOPT_SOCKETFUNCTION
 * and CURLMOPT_TIMERFUNCTION), so a slow receiver never blocks the loop.
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

#define POST_TIMEOUT		10L	/* seconds for a whole POST */
#define CONNECT_TIMEOUT		5L
#define MAX_INFLIGHT		64	/* POSTs at once (one per receiver is the norm) */

/* One POST in flight; owned by the multi handle until it completes. */
struct http_req {
	TAILQ_ENTRY(http_req)	 entry;
	CURL			*easy;
	struct curl_slist	*headers;
	char			*body;
	alert_http_cb		 cb;
	void			*arg;
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
alert_http_req_free(struct http_req *r)
{
	TAILQ_REMOVE(&reqs, r, entry);
	inflight--;
	curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	free(r->body);
	free(r);
}

/* Completes finished transfers: status, callback, free. */
static void
alert_http_reap(void)
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
		r->cb(r->arg, res == CURLE_OK && status >= 200 && status < 300,
		    status, res != CURLE_OK ? (r->errbuf[0] ? r->errbuf :
		    curl_easy_strerror(res)) : "");
		alert_http_req_free(r);
	}
}

/* A socket of curl's is ready. */
static void
alert_http_event(evutil_socket_t fd, short what, void *arg)
{
	int running, action = ((what & EV_READ) ? CURL_CSELECT_IN : 0) |
	    ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);

	curl_multi_socket_action(multi, fd, action, &running);
	alert_http_reap();
}

/* curl's timeout expired. */
static void
alert_http_timeout(evutil_socket_t fd, short what, void *arg)
{
	int running;

	curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
	alert_http_reap();
}

/* CURLMOPT_SOCKETFUNCTION: watch, rewatch or forget one socket. */
static int
alert_http_sockcb(CURL *e, curl_socket_t s, int what, void *userp, void *sockp)
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
	event_assign(&hs->ev, hbase, s, kind, alert_http_event, NULL);
	event_add(&hs->ev, NULL);
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: (re)arms or stops the single timer. */
static int
alert_http_timercb(CURLM *m, long timeout_ms, void *userp)
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

/* Discards the receiver's answer body. */
static size_t
alert_http_discard(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	return size * nmemb;
}

/* Sets up the multi handle on base; -1 if libcurl cannot start. */
int
alert_http_init(struct event_base *base)
{
	if (multi != NULL)
		return 0;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (multi = curl_multi_init()) == NULL) {
		log_warnx("alerts: libcurl failed to start");
		return -1;
	}
	hbase = base;
	evtimer_assign(&timer_ev, base, alert_http_timeout, NULL);
	curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, alert_http_sockcb);
	curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, alert_http_timercb);
	return 0;
}

/* Writes "sha256=<hex HMAC-SHA256(secret, body)>" into out. */
static void
alert_http_sign(const char *secret, const char *body, size_t len, char *out,
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
 * Starts a JSON POST of body to url (signed when secret is not empty; the
 * server is verified against ca_file when set, else the system store);
 * cb runs once with the outcome.  -1 when it cannot start (cb not called).
 */
int
alert_http_post(const char *url, const char *ca_file, const char *secret,
    const char *body, size_t len, alert_http_cb cb, void *arg)
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
		alert_http_sign(secret, body, len, sig, sizeof(sig));
		r->headers = curl_slist_append(r->headers, sig);
	}
	r->headers = curl_slist_append(r->headers, "Expect:");
	curl_easy_setopt(r->easy, CURLOPT_URL, url);
	curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->body);
	curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE, (long)len);
	curl_easy_setopt(r->easy, CURLOPT_USERAGENT, "gotunnel/" GOTUNNEL_VERSION);
	curl_easy_setopt(r->easy, CURLOPT_TIMEOUT, POST_TIMEOUT);
	curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT);
	curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, alert_http_discard);
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
alert_http_room(void)
{
	return multi != NULL && inflight < MAX_INFLIGHT;
}

/* Abandons POSTs in flight (they stay queued in LMDB) and frees libcurl. */
void
alert_http_free(void)
{
	struct http_req *r;

	if (multi == NULL)
		return;
	while ((r = TAILQ_FIRST(&reqs)) != NULL) {
		curl_multi_remove_handle(multi, r->easy);
		r->cb(r->arg, 0, 0, "master stopping");
		alert_http_req_free(r);
	}
	evtimer_del(&timer_ev);
	curl_multi_cleanup(multi);
	multi = NULL;
	curl_global_cleanup();
}
