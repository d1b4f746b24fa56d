/* SPDX-License-Identifier: ISC */
/*
 * api_cluster.c: the admin's view of a cluster ([cluster] in the ini):
 * GET /api/nodes and the every-node client list of GET /api/clients.
 *
 * The admin does not open its own PostgreSQL connection: it asks its
 * master over the control socket (the "nodes" and "clients" commands
 * gotunnelctl uses), and the master answers from PostgreSQL.  One
 * database connection per node, one schema client (server/cluster.c),
 * and nothing new for Kore's seccomp sandbox to allow.
 */
#include <string.h>

#include <yajl/yajl_tree.h>

#include "module.h"

#define CLUSTER_DEPTH_MAX	8	/* client > mappings > mapping > domains */

/* 1 when the ini has a [cluster] database. */
int
cluster_admin_on(void)
{
	return admin_conf.cluster_database[0] != '\0';
}

/* Appends a yajl tree value as JSON (key may be NULL inside arrays). */
static void
cluster_jw_value(struct kore_buf *b, const char *key, yajl_val v, int depth)
{
	const char	*s;
	size_t		 i;

	if (depth > CLUSTER_DEPTH_MAX)
		return;
	if (YAJL_IS_STRING(v)) {
		s = YAJL_GET_STRING(v);
		jw_str(b, key, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
	} else if (YAJL_IS_NUMBER(v)) {
		jw_key(b, key);
		kore_buf_appendf(b, "%s,", YAJL_GET_NUMBER(v));
	} else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
		jw_bool(b, key, YAJL_IS_TRUE(v));
	} else if (YAJL_IS_OBJECT(v)) {
		jw_key(b, key);
		jw_open(b, '{');
		for (i = 0; i < YAJL_GET_OBJECT(v)->len; i++)
			cluster_jw_value(b, YAJL_GET_OBJECT(v)->keys[i],
			    YAJL_GET_OBJECT(v)->values[i], depth + 1);
		jw_close(b, '}');
	} else if (YAJL_IS_ARRAY(v)) {
		jw_key(b, key);
		jw_open(b, '[');
		for (i = 0; i < YAJL_GET_ARRAY(v)->len; i++)
			cluster_jw_value(b, NULL, YAJL_GET_ARRAY(v)->values[i],
			    depth + 1);
		jw_close(b, ']');
	} else {
		jw_key(b, key);
		jw_raw(b, "null,");
	}
}

/*
 * Asks the master for cmd and parses its reply: 0 with *tree (free it
 * with yajl_tree_free) and *result the array; 1 the master answered
 * fail, -1 unreachable or a bad reply (err says which).
 */
static int
cluster_ask(const char *cmd, yajl_val *tree, yajl_val *result, char *err,
    size_t errlen)
{
	static const char	*path[] = { "result", NULL };
	char			 req[64], *reply = NULL;
	int			 rc;

	err[0] = '\0';
	snprintf(req, sizeof(req), "{\"type\":\"ctl\",\"cmd\":\"%s\"}", cmd);
	if ((rc = ctl_request_reply(req, &reply, err, errlen)) != 0)
		return rc;
	*tree = yajl_tree_parse(reply, NULL, 0);
	kore_free(reply);
	*result = *tree != NULL ? yajl_tree_get(*tree, path, yajl_t_array) :
	    NULL;
	if (*result == NULL) {
		if (*tree != NULL)
			yajl_tree_free(*tree);
		snprintf(err, errlen, "bad reply from the master");
		return -1;
	}
	return 0;
}

/* The member key of object o when it has type t, else NULL. */
static yajl_val
cluster_get(yajl_val o, const char *key, yajl_type t)
{
	const char	*path[] = { key, NULL };

	return yajl_tree_get(o, path, t);
}

/* Appends one node item of the master's list: the documented keys, null
 * where the master left one out. */
static void
cluster_node_json(struct kore_buf *b, yajl_val item)
{
	static const char *const keys[] = { "name", "advertise_addr", "status",
	    "last_seen", "clients", "connections", "version", NULL };
	yajl_val	v;

	jw_open(b, '{');
	for (int k = 0; keys[k] != NULL; k++) {
		if ((v = cluster_get(item, keys[k], yajl_t_any)) != NULL)
			cluster_jw_value(b, keys[k], v, 1);
		else {
			jw_key(b, keys[k]);
			jw_raw(b, "null,");
		}
	}
}

/*
 * Answers 200 {"<key>":[...]} with one item per object of the master's
 * result array, written by item_fn (which opens the object), and frees
 * the tree.
 */
static void
cluster_send_array(struct admin_ctx *ctx, const char *key, yajl_val tree,
    yajl_val result, void (*item_fn)(struct kore_buf *, yajl_val))
{
	struct kore_buf	b;
	yajl_val	item;

	kore_buf_init(&b, 4096);
	jw_open(&b, '{');
	jw_key(&b, key);
	jw_open(&b, '[');
	for (size_t i = 0; i < YAJL_GET_ARRAY(result)->len; i++) {
		item = YAJL_GET_ARRAY(result)->values[i];
		if (!YAJL_IS_OBJECT(item))
			continue;
		item_fn(&b, item);
		jw_close(&b, '}');
	}
	jw_close(&b, ']');
	jw_close(&b, '}');
	yajl_tree_free(tree);
	admin_json(ctx, 200, &b);
	kore_buf_cleanup(&b);
}

/*
 * GET /api/nodes: {"items":[...]} as gotunnelctl nodes --json; 404
 * without [cluster]; 503 {"error":"cluster store unavailable"} while the
 * master cannot reach PostgreSQL (or cannot be reached itself).
 */
int
api_nodes(struct admin_ctx *ctx)
{
	static const char *const none[] = { NULL };
	yajl_val	 tree, result;
	char		 err[256];
	int		 rc;

	if (admin_params_allow(ctx, none) == -1)
		return KORE_RESULT_OK;
	if (!cluster_admin_on()) {
		admin_error(ctx, 404, "not in cluster mode");
		return KORE_RESULT_OK;
	}
	if ((rc = cluster_ask("nodes", &tree, &result, err, sizeof(err))) != 0) {
		if (rc == 1 && strstr(err, "not in cluster mode") != NULL) {
			/* The ini has [cluster] but the master runs without. */
			admin_error(ctx, 404, err);
			return KORE_RESULT_OK;
		}
		kore_log(LOG_WARNING, "nodes: %s", err);
		admin_error(ctx, 503, rc == 1 ? err : "master unreachable");
		return KORE_RESULT_OK;
	}
	cluster_send_array(ctx, "items", tree, result, cluster_node_json);
	return KORE_RESULT_OK;
}

/* Appends one client item of the master's list, with "worker" too. */
static void
cluster_client_json(struct kore_buf *b, yajl_val item)
{
	yajl_val	v;
	size_t		j;

	jw_open(b, '{');
	for (j = 0; j < YAJL_GET_OBJECT(item)->len; j++)
		cluster_jw_value(b, YAJL_GET_OBJECT(item)->keys[j],
		    YAJL_GET_OBJECT(item)->values[j], 1);
	if ((v = cluster_get(item, "worker_pid", yajl_t_number)) != NULL)
		cluster_jw_value(b, "worker", v, 1);
}

/*
 * GET /api/clients/{id} of a session another node holds: its item from
 * the master's every-node list with "conns":[] (a node knows only its
 * own live connections).  0 answered, -1 not there (the caller says 404).
 */
int
cluster_client(struct admin_ctx *ctx)
{
	struct kore_buf	 b;
	yajl_val	 tree, result, item, id;
	const char	*s;
	char		 err[256];
	size_t		 i;

	if (cluster_ask("clients", &tree, &result, err, sizeof(err)) != 0)
		return -1;
	for (i = 0; i < YAJL_GET_ARRAY(result)->len; i++) {
		item = YAJL_GET_ARRAY(result)->values[i];
		if (!YAJL_IS_OBJECT(item) ||
		    (id = cluster_get(item, "id", yajl_t_string)) == NULL ||
		    (s = YAJL_GET_STRING(id)) == NULL || strcmp(s, ctx->arg) != 0)
			continue;
		kore_buf_init(&b, 1024);
		cluster_client_json(&b, item);
		jw_key(&b, "conns");
		jw_raw(&b, "[],");
		jw_close(&b, '}');
		yajl_tree_free(tree);
		admin_json(ctx, 200, &b);
		kore_buf_cleanup(&b);
		return 0;
	}
	yajl_tree_free(tree);
	return -1;
}

/*
 * GET /api/clients in cluster mode: the master's every-node list, each
 * item with "node" (and "worker" as the local list names worker_pid).
 * 0 answered; -1 the master could not give it (the caller falls back on
 * the local LMDB list).
 */
int
cluster_clients(struct admin_ctx *ctx)
{
	yajl_val	 tree, result;
	char		 err[256];

	if (cluster_ask("clients", &tree, &result, err, sizeof(err)) != 0) {
		kore_log(LOG_WARNING, "clients of the cluster: %s", err);
		return -1;
	}
	cluster_send_array(ctx, "clients", tree, result, cluster_client_json);
	return 0;
}
