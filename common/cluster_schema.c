/* SPDX-License-Identifier: ISC */
/*
 * cluster_schema.c: the versioned PostgreSQL schema of cluster mode.
 *
 * One script creates or upgrades it: each version's statements run only if
 * gt_schema does not list that version yet, under an advisory lock so that
 * masters starting together (and gotunnelctl db init) apply it once.
 * Running the script again changes nothing: it is idempotent.
 *
 *   gt_nodes      one row per master: heartbeat (last_seen) and counts
 *   gt_ports      the cluster-wide owner (identity) of each remote port
 *   gt_holds      which node holds which port for its owner right now
 *   gt_live       each node's live clients / mappings (JSON arrays, 1 s old)
 *   gt_hist_sess, gt_hist_conn, gt_audit
 *                 history, written once from each node's LMDB outbox:
 *                 (origin, oseq) is the outbox's key, so a retry is a no-op
 *   gt_users      console users (version 2): argon2id hash, role; a deleted
 *                 user stays as a tombstone (deleted, no hash) so that
 *                 every node's LMDB copy learns of the delete
 *   gt_tokens     per-client credentials (version 2): the keyed hash of the
 *                 secret (hex), never the secret, and its limits
 *                 Version 3 adds gt_users.totp: the user's RFC 6238 secret
 *                 (hex), '' when two-factor login is off, NULL for a row
 *                 from before version 3 (each node keeps its own then).
 *                 It is a secret: the database must be protected like
 *                 each node's LMDB files.
 *   gt_auth       one row: a counter that every write to gt_users or
 *                 gt_tokens bumps (trigger) into the row's rev, and a NOTIFY
 *                 "auth"; each master copies rows with rev > the last it
 *                 copied into its LMDB (server/cluster_mirror.c).  The
 *                 counter's row lock orders the writers, so revs commit in
 *                 order and no change is skipped.
 */
#include "cluster_schema.h"

/* Version 1: everything above. */
#define SCHEMA_V1 \
	"CREATE TABLE gt_nodes (name text PRIMARY KEY, " \
	"advertise_addr text NOT NULL, version text NOT NULL, " \
	"started timestamptz NOT NULL DEFAULT now(), " \
	"last_seen timestamptz NOT NULL DEFAULT now(), " \
	"clients integer NOT NULL DEFAULT 0, " \
	"connections integer NOT NULL DEFAULT 0);\n" \
	"CREATE TABLE gt_ports (port integer PRIMARY KEY, " \
	"identity text NOT NULL, since timestamptz NOT NULL DEFAULT now());\n" \
	"CREATE TABLE gt_holds (port integer NOT NULL, node text NOT NULL, " \
	"identity text NOT NULL, PRIMARY KEY (port, node));\n" \
	"CREATE TABLE gt_live (node text NOT NULL, kind text NOT NULL, " \
	"items jsonb NOT NULL, updated timestamptz NOT NULL DEFAULT now(), " \
	"PRIMARY KEY (node, kind));\n" \
	"CREATE TABLE gt_hist_sess (origin text NOT NULL, oseq bigint NOT NULL, " \
	"node text NOT NULL, client_id text, name text, address text, " \
	"reason text, start_time bigint, end_time bigint, bytes_in bigint, " \
	"bytes_out bigint, ports text, PRIMARY KEY (origin, oseq));\n" \
	"CREATE TABLE gt_hist_conn (origin text NOT NULL, oseq bigint NOT NULL, " \
	"node text NOT NULL, client_id text, client_name text, mapping text, " \
	"remote_port integer, local_port integer, peer text, reason text, " \
	"start_time bigint, end_time bigint, bytes_in bigint, bytes_out bigint, " \
	"PRIMARY KEY (origin, oseq));\n" \
	"CREATE INDEX gt_hist_conn_end ON gt_hist_conn (end_time);\n" \
	"CREATE INDEX gt_hist_sess_end ON gt_hist_sess (end_time);\n" \
	"CREATE TABLE gt_audit (origin text NOT NULL, oseq bigint NOT NULL, " \
	"node text NOT NULL, time bigint, username text, action text, " \
	"ok boolean, address text, detail text, PRIMARY KEY (origin, oseq));\n"

/* Version 2: users and credentials, shared by every node (hashes only). */
#define SCHEMA_V2 \
	"CREATE TABLE gt_auth (id integer PRIMARY KEY CHECK (id = 1), " \
	"rev bigint NOT NULL);\n" \
	"INSERT INTO gt_auth VALUES (1, 0);\n" \
	"CREATE TABLE gt_users (name text PRIMARY KEY, hash text NOT NULL, " \
	"role text NOT NULL, created bigint NOT NULL, updated bigint NOT NULL, " \
	"deleted boolean NOT NULL DEFAULT false, rev bigint NOT NULL);\n" \
	"CREATE TABLE gt_tokens (name text PRIMARY KEY, hash text NOT NULL, " \
	"revoked boolean NOT NULL, revoked_at bigint NOT NULL, " \
	"generation bigint NOT NULL, created bigint NOT NULL, " \
	"expires bigint NOT NULL, max_mappings bigint NOT NULL, " \
	"ports text NOT NULL, allow_src text NOT NULL, deny_src text NOT NULL, " \
	"rev bigint NOT NULL);\n" \
	"CREATE FUNCTION gt_auth_bump() RETURNS trigger LANGUAGE plpgsql AS " \
	"$f$ BEGIN UPDATE gt_auth SET rev = rev + 1 WHERE id = 1 " \
	"RETURNING rev INTO NEW.rev; PERFORM pg_notify('gotunnel', 'auth'); " \
	"RETURN NEW; END $f$;\n" \
	"CREATE TRIGGER gt_users_rev BEFORE INSERT OR UPDATE ON gt_users " \
	"FOR EACH ROW EXECUTE FUNCTION gt_auth_bump();\n" \
	"CREATE TRIGGER gt_tokens_rev BEFORE INSERT OR UPDATE ON gt_tokens " \
	"FOR EACH ROW EXECUTE FUNCTION gt_auth_bump();\n" \
	"CREATE INDEX gt_users_rev_idx ON gt_users (rev);\n" \
	"CREATE INDEX gt_tokens_rev_idx ON gt_tokens (rev);\n"

/* Version 3: TOTP enrolment cluster-wide (NULL: not known, keep local). */
#define SCHEMA_V3 \
	"ALTER TABLE gt_users ADD COLUMN totp text;\n"

/* Wraps one version's statements so they run only once. */
#define SCHEMA_STEP(n, sql) \
	"DO $gt$ BEGIN IF NOT EXISTS (SELECT 1 FROM gt_schema WHERE version = " \
	#n ") THEN\n" sql "INSERT INTO gt_schema (version) VALUES (" #n ");\n" \
	"END IF; END $gt$;\n"

static const char schema_script[] =
	"BEGIN;\n"
	/* 0x67746e6c = "gtnl": one lock id for every gotunnel schema change */
	"SELECT pg_advisory_xact_lock(1735683692);\n"
	"CREATE TABLE IF NOT EXISTS gt_schema (version integer PRIMARY KEY, "
	"applied timestamptz NOT NULL DEFAULT now());\n"
	SCHEMA_STEP(1, SCHEMA_V1)
	SCHEMA_STEP(2, SCHEMA_V2)
	SCHEMA_STEP(3, SCHEMA_V3)
	"COMMIT;\n"
	"SELECT max(version) FROM gt_schema;\n";

/* Returns the script that creates or upgrades the schema (last result: version). */
const char *
cluster_schema_script(void)
{
	return schema_script;
}
