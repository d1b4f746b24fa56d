/* SPDX-License-Identifier: ISC */
/* check_proto.c: the strict message parser and the encoder (proto.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "frame.h"
#include "proto.h"
#include "suites.h"

/* The seed's register message, byte for byte. */
#define SEED	"{\"type\":\"register\",\"local_port\":22,\"remote_port\":10022," \
		"\"protocol\":\"tcp\",\"token\":\"changeme\",\"name\":\"gotunnel-demo\"}"

/* Parses a C string; returns proto_parse's result, the reason in err. */
static int
parse(const char *s, struct msg *m, char *err, size_t errlen)
{
	err[0] = '\0';
	return proto_parse(s, strlen(s), m, err, errlen);
}

START_TEST(test_seed_register)
{
	struct msg	m;
	char		err[256];

	ck_assert_int_eq(parse(SEED, &m, err, sizeof(err)), 0);
	ck_assert_int_eq(m.type, MSG_REGISTER);
	ck_assert_str_eq(m.type_s, "register");
	ck_assert_int_eq(m.local_port, 22);
	ck_assert_int_eq(m.remote_port, 10022);
	ck_assert_str_eq(m.protocol, "tcp");
	ck_assert_str_eq(m.token, "changeme");
	ck_assert_str_eq(m.name, "gotunnel-demo");
	ck_assert(MSG_HAS(&m, F_TYPE) && MSG_HAS(&m, F_LOCAL_PORT) &&
	    MSG_HAS(&m, F_REMOTE_PORT) && MSG_HAS(&m, F_PROTOCOL) &&
	    MSG_HAS(&m, F_TOKEN) && MSG_HAS(&m, F_NAME));
	ck_assert(!MSG_HAS(&m, F_CLIENT_ID) && !MSG_HAS(&m, F_POOL_COUNT) &&
	    !MSG_HAS(&m, F_MAPPING) && !MSG_HAS(&m, F_LOCAL_IP));
}
END_TEST

/* Every optional register member of design.md, and whitespace between tokens. */
START_TEST(test_register_full)
{
	struct msg	m;
	char		err[256];
	const char	*s = " {\n\t\"type\" : \"register\", \"local_port\": 65535,"
	    " \"remote_port\": 0, \"protocol\": \"tcp\", \"token\": \"t\\\"ok\\u00e9\","
	    " \"name\": \"n\", \"mapping\": \"ssh\", \"local_ip\": \"::1\","
	    " \"client_id\": \"0123456789abcdef0123456789abcdef\","
	    " \"pool_count\": 8 }\n";

	ck_assert_msg(parse(s, &m, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(m.type, MSG_REGISTER);
	ck_assert_int_eq(m.local_port, 65535);
	ck_assert_int_eq(m.remote_port, 0);
	ck_assert(MSG_HAS(&m, F_REMOTE_PORT));
	ck_assert_str_eq(m.token, "t\"ok\xc3\xa9");
	ck_assert_str_eq(m.mapping, "ssh");
	ck_assert_str_eq(m.local_ip, "::1");
	ck_assert_str_eq(m.client_id, "0123456789abcdef0123456789abcdef");
	ck_assert_int_eq(m.pool_count, 8);
}
END_TEST

/* The register members of source ACLs: strings, bounded, encoded back. */
START_TEST(test_register_acl_members)
{
	struct msg	 m, back;
	char		 s[4096], v[CIDR_STR_MAX + 1], err[256], json[FRAME_MAX];
	size_t		 len;

	ck_assert_msg(parse("{\"type\":\"register\",\"allow_cidrs\":\"10.0.0.0/8, ::1\","
	    "\"deny_cidrs\":\"10.1.0.0/16\"}", &m, err, sizeof(err)) == 0, "%s", err);
	ck_assert(MSG_HAS(&m, F_ALLOW_CIDRS) && MSG_HAS(&m, F_DENY_CIDRS));
	ck_assert_str_eq(m.allow_cidrs, "10.0.0.0/8, ::1");
	ck_assert_str_eq(m.deny_cidrs, "10.1.0.0/16");
	ck_assert_int_eq(proto_encode(&m, json, &len), 0);
	ck_assert_int_eq(proto_parse(json, len, &back, err, sizeof(err)), 0);
	ck_assert_str_eq(back.allow_cidrs, m.allow_cidrs);
	ck_assert_int_eq(parse("{\"type\":\"register\",\"allow_cidrs\":[\"10.0.0.0/8\"]}",
	    &m, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "allow_cidrs"));
	memset(v, '1', sizeof(v));
	v[CIDR_STR_MAX] = '\0';
	snprintf(s, sizeof(s), "{\"type\":\"register\",\"deny_cidrs\":\"%s\"}", v);
	ck_assert_int_eq(parse(s, &m, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "deny_cidrs"));
	ck_assert_ptr_nonnull(strstr(err, "too long"));
	v[CIDR_STR_MAX - 1] = '\0';
	snprintf(s, sizeof(s), "{\"type\":\"register\",\"deny_cidrs\":\"%s\"}", v);
	ck_assert_msg(parse(s, &m, err, sizeof(err)) == 0, "%s", err);
}
END_TEST

/* Every message type is known by its wire name. */
static const struct {
	const char	*json;
	enum msg_type	 type;
} good_types[] = {
	{ "{\"type\":\"register\"}", MSG_REGISTER },
	{ "{\"type\":\"register_response\",\"status\":\"fail\",\"error\":\"bad token\"}",
	    MSG_REGISTER_RESPONSE },
	{ "{\"type\":\"heartbeat\"}", MSG_HEARTBEAT },
	{ "{\"type\":\"heartbeat\",\"time\":1700000000}", MSG_HEARTBEAT },
	{ "{\"type\":\"heartbeat_ack\",\"time\":1.5}", MSG_HEARTBEAT_ACK },
	{ "{\"type\":\"open_data\",\"data_id\":\"0.0123\"}", MSG_OPEN_DATA },
	{ "{\"type\":\"data\",\"data_id\":\"1.abc\"}", MSG_DATA },
	{ "{\"type\":\"start\",\"remote_port\":10022,\"peer\":\"203.0.113.5:40112\"}",
	    MSG_START },
	{ "{\"type\":\"error\",\"error\":\"unknown data id\"}", MSG_ERROR },
	{ "{\"type\":\"ctl\",\"cmd\":\"kick\",\"client_id\":\"x\"}", MSG_CTL },
	{ "{\"type\":\"ctl_response\",\"status\":\"ok\",\"result\":{\"a\":[1,2]}}",
	    MSG_CTL_RESPONSE },
	/* type need not come first */
	{ "{\"local_port\":1,\"type\":\"register\"}", MSG_REGISTER },
};

START_TEST(test_good_types)
{
	struct msg	m;
	char		err[256];

	ck_assert_msg(parse(good_types[_i].json, &m, err, sizeof(err)) == 0,
	    "%s: %s", good_types[_i].json, err);
	ck_assert_int_eq(m.type, good_types[_i].type);
	ck_assert_str_eq(msg_type_name(m.type), m.type_s);
}
END_TEST

/* Unknown members of any JSON type are accepted and ignored. */
START_TEST(test_unknown_members_ignored)
{
	struct msg	m;
	char		err[256];
	const char	*s = "{\"type\":\"register\",\"future\":{\"a\":[1,2.5,{\"b\":null}],"
	    "\"local_port\":\"not checked here\"},\"flag\":true,\"off\":false,"
	    "\"nothing\":null,\"ratio\":0.25,\"big\":-12,\"list\":[\"x\",[]],"
	    "\"local_port\":80,\"empty\":{}}";

	ck_assert_msg(parse(s, &m, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(m.type, MSG_REGISTER);
	ck_assert_int_eq(m.local_port, 80);
	ck_assert_uint_eq(m.present, (1u << F_TYPE) | (1u << F_LOCAL_PORT));
}
END_TEST

/* Same key names in different objects, or at different depths, are no duplicates. */
START_TEST(test_same_key_other_objects)
{
	struct msg	m;
	char		err[256];
	const char	*s = "{\"type\":\"heartbeat\",\"a\":{\"k\":1,\"type\":2},"
	    "\"b\":{\"k\":1,\"c\":{\"k\":2}},\"l\":[{\"k\":1},{\"k\":1}]}";

	ck_assert_msg(parse(s, &m, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(m.type, MSG_HEARTBEAT);
}
END_TEST

/* Ports at their limits: local_port 1..65535, remote_port 0..65535. */
START_TEST(test_port_limits_ok)
{
	struct msg	m;
	char		err[256];

	ck_assert_int_eq(parse("{\"type\":\"register\",\"local_port\":1,"
	    "\"remote_port\":65535}", &m, err, sizeof(err)), 0);
	ck_assert_int_eq(m.local_port, 1);
	ck_assert_int_eq(m.remote_port, 65535);
	ck_assert_int_eq(parse("{\"type\":\"register\",\"local_port\":65535,"
	    "\"remote_port\":0}", &m, err, sizeof(err)), 0);
	ck_assert_int_eq(m.local_port, 65535);
	ck_assert_int_eq(m.remote_port, 0);
	ck_assert_int_eq(parse("{\"type\":\"register\",\"remote_port\":-0}", &m,
	    err, sizeof(err)), 0);
	ck_assert_int_eq(m.remote_port, 0);
	/* Limits of a mapping at their bounds. */
	ck_assert_msg(parse("{\"type\":\"register\",\"max_conns\":1000000,"
	    "\"conn_rate\":0,\"conn_burst\":1000000,"
	    "\"bandwidth_limit\":8589934592}", &m, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(m.max_conns, 1000000);
	ck_assert(MSG_HAS(&m, F_CONN_RATE));
	ck_assert_int_eq(m.conn_burst, 1000000);
	ck_assert_int_eq(m.bandwidth_limit, 8589934592LL);
}
END_TEST

/* Nesting: 16 levels (the message object counts as one) pass, 17 do not. */
START_TEST(test_depth_limit)
{
	char		s[512], err[256];
	struct msg	m;
	int		n;

	for (int levels = 2; levels <= 20; levels++) {
		/* {"type":"heartbeat","x": + (levels-1) nested containers */
		n = snprintf(s, sizeof(s), "{\"type\":\"heartbeat\",\"x\":");
		for (int i = 1; i < levels; i++)
			n += snprintf(s + n, sizeof(s) - (size_t)n, i % 2 ? "[" : "{\"k\":");
		n += snprintf(s + n, sizeof(s) - (size_t)n, "1");
		for (int i = levels - 1; i >= 1; i--)
			n += snprintf(s + n, sizeof(s) - (size_t)n, i % 2 ? "]" : "}");
		snprintf(s + n, sizeof(s) - (size_t)n, "}");
		if (levels <= PROTO_MAX_DEPTH)
			ck_assert_msg(parse(s, &m, err, sizeof(err)) == 0,
			    "%d levels: %s", levels, err);
		else {
			ck_assert_msg(parse(s, &m, err, sizeof(err)) == -1,
			    "%d levels accepted", levels);
			ck_assert_msg(strstr(err, "deep") != NULL, "%s", err);
		}
	}
}
END_TEST

/* 100,000 levels: refused quickly, no stack overflow. */
START_TEST(test_depth_huge)
{
	size_t		 n = 100000, len;
	char		*s = malloc(2 * n + 64), err[256];
	struct msg	 m;

	len = (size_t)sprintf(s, "{\"type\":\"heartbeat\",\"x\":");
	memset(s + len, '[', n);
	len += n;
	memset(s + len, ']', n);
	len += n;
	s[len++] = '}';
	ck_assert_int_eq(proto_parse(s, len, &m, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "deep"));
	/* Unclosed objects too. */
	len = 0;
	for (size_t i = 0; i < 20000; i++)
		len += (size_t)sprintf(s + len, "{\"a\":");
	ck_assert_int_eq(proto_parse(s, len, &m, err, sizeof(err)), -1);
	free(s);
}
END_TEST

/* Exactly FRAME_MAX bytes of valid JSON is a valid message. */
START_TEST(test_max_size_message)
{
	char		*s = malloc(FRAME_MAX), err[256];
	struct msg	 m;
	size_t		 head = strlen("{\"type\":\"heartbeat\",\"pad\":\"");

	memcpy(s, "{\"type\":\"heartbeat\",\"pad\":\"", head);
	memset(s + head, 'p', FRAME_MAX - head - 2);
	memcpy(s + FRAME_MAX - 2, "\"}", 2);
	ck_assert_msg(proto_parse(s, FRAME_MAX, &m, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(m.type, MSG_HEARTBEAT);
	free(s);
}
END_TEST

/* The longest string each field holds; one more byte is refused. */
START_TEST(test_string_lengths)
{
	char		 s[1024], v[400], err[256];
	struct msg	 m;

	memset(v, 'a', sizeof(v));
	v[255] = '\0';		/* token[256]: 255 characters fit */
	snprintf(s, sizeof(s), "{\"type\":\"register\",\"token\":\"%s\"}", v);
	ck_assert_msg(parse(s, &m, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(strlen(m.token), 255);
	v[255] = 'a';
	v[256] = '\0';
	snprintf(s, sizeof(s), "{\"type\":\"register\",\"token\":\"%s\"}", v);
	ck_assert_int_eq(parse(s, &m, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "token"));
	ck_assert_ptr_nonnull(strstr(err, "too long"));
	v[DB_NAME_LEN] = '\0';
	snprintf(s, sizeof(s), "{\"type\":\"register\",\"name\":\"%s\"}", v);
	ck_assert_int_eq(parse(s, &m, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "name"));
	v[DB_NAME_LEN - 1] = '\0';
	snprintf(s, sizeof(s), "{\"type\":\"register\",\"name\":\"%s\"}", v);
	ck_assert_int_eq(parse(s, &m, err, sizeof(err)), 0);
	ck_assert_uint_eq(strlen(m.name), DB_NAME_LEN - 1);
}
END_TEST

/* Each bad input of gotunnel-protocol(7): refused with a reason. */
static const struct {
	const char	*json;
	const char	*why;		/* substring of the reason, or NULL */
} bad[] = {
	/* not JSON / truncated / empty */
	{ "", NULL },
	{ " ", NULL },
	{ "{", NULL },
	{ "{\"type\":\"heartbeat\"", NULL },
	{ "{\"type\":\"heartbeat\",}", NULL },
	{ "{'type':'heartbeat'}", NULL },
	{ "{type:\"heartbeat\"}", NULL },
	{ "{\"type\":\"heart\nbeat\"}", NULL },		/* raw control char */
	{ "{\"type\":\"heartbeat\",\"x\":\"\\q\"}", NULL },	/* bad escape */
	{ "{\"type\":\"heartbeat\",\"x\":\"\xff\xfe\"}", NULL },	/* bad UTF-8 */
	{ "{\"type\":\"heartbeat\",\"x\":01}", NULL },
	{ "{\"type\":\"heartbeat\",\"x\":NaN}", NULL },
	{ "{\"type\":\"heartbeat\",\"x\":Infinity}", NULL },
	/* bytes after the object */
	{ "{\"type\":\"heartbeat\"}x", NULL },
	{ "{\"type\":\"heartbeat\"}{}", NULL },
	{ "{\"type\":\"heartbeat\"}{\"type\":\"heartbeat\"}", NULL },
	{ "{\"type\":\"heartbeat\"} 1", NULL },
	{ "{\"type\":\"heartbeat\"}]", NULL },
	{ "{\"type\":\"heartbeat\"}}", NULL },
	{ "{\"type\":\"heartbeat\"}\"\"", NULL },
	/* comments */
	{ "/* c */{\"type\":\"heartbeat\"}", NULL },
	{ "{\"type\":\"heartbeat\"}// c", NULL },
	{ "{\"type\":\"heartbeat\"}/* c */", NULL },
	{ "{\"type\":/* c */\"heartbeat\"}", NULL },
	{ "{// c\n\"type\":\"heartbeat\"}", NULL },
	{ "{\"type\":\"heartbeat\",\"x\":[1/**/,2]}", NULL },
	{ "# c\n{\"type\":\"heartbeat\"}", NULL },
	/* \u0000 in any string: value, key, unknown or nested member */
	{ "{\"type\":\"register\",\"token\":\"x\\u0000y\"}", "NUL" },
	{ "{\"type\":\"register\",\"token\":\"\\u0000\"}", "NUL" },
	{ "{\"type\":\"heartbeat\\u0000\"}", "NUL" },
	{ "{\"type\\u0000\":\"heartbeat\"}", "NUL" },
	{ "{\"type\":\"heartbeat\",\"extra\":\"a\\u0000\"}", "NUL" },
	{ "{\"type\":\"heartbeat\",\"x\":[\"\\u0000\"]}", "NUL" },
	{ "{\"type\":\"heartbeat\",\"x\":{\"\\u0000\":1}}", "NUL" },
	{ "{\"type\":\"heartbeat\",\"x\":{\"a\":{\"b\":\"\\u0000\"}}}", "NUL" },
	/* duplicate keys at any depth */
	{ "{\"type\":\"heartbeat\",\"type\":\"heartbeat\"}", "duplicate" },
	{ "{\"type\":\"heartbeat\",\"type\":\"register\"}", "duplicate" },
	{ "{\"type\":\"register\",\"token\":\"a\",\"token\":\"b\"}", "duplicate" },
	{ "{\"type\":\"register\",\"local_port\":22,\"local_port\":22}", "duplicate" },
	{ "{\"type\":\"heartbeat\",\"x\":1,\"x\":2}", "duplicate" },
	{ "{\"type\":\"heartbeat\",\"x\":{\"a\":1,\"a\":1}}", "duplicate" },
	{ "{\"type\":\"heartbeat\",\"x\":[{\"a\":1,\"b\":2,\"a\":3}]}", "duplicate" },
	{ "{\"type\":\"heartbeat\",\"x\":{\"y\":{\"z\":{\"q\":[{},{\"d\":1,\"d\":1}]}}}}", "duplicate" },
	{ "{\"type\":\"heartbeat\",\"t\\u0079pe\":\"heartbeat\"}", "duplicate" },	/* escaped */
	{ "{\"type\":\"heartbeat\",\"x\":{\"a\":{},\"a\":{}}}", "duplicate" },
	/* wrong types of known members */
	{ "{\"type\":1}", "type" },
	{ "{\"type\":null}", "type" },
	{ "{\"type\":true}", "type" },
	{ "{\"type\":[\"register\"]}", "type" },
	{ "{\"type\":{\"register\":1}}", "type" },
	{ "{\"type\":\"register\",\"local_port\":\"22\"}", "local_port" },
	{ "{\"type\":\"register\",\"local_port\":22.0}", "local_port" },
	{ "{\"type\":\"register\",\"local_port\":2.2e1}", "local_port" },
	{ "{\"type\":\"register\",\"local_port\":true}", "local_port" },
	{ "{\"type\":\"register\",\"local_port\":null}", "local_port" },
	{ "{\"type\":\"register\",\"local_port\":[22]}", "local_port" },
	{ "{\"type\":\"register\",\"local_port\":{}}", "local_port" },
	{ "{\"type\":\"register\",\"remote_port\":\"10022\"}", "remote_port" },
	{ "{\"type\":\"register\",\"remote_port\":[]}", "remote_port" },
	{ "{\"type\":\"register\",\"token\":12345}", "token" },
	{ "{\"type\":\"register\",\"token\":null}", "token" },
	{ "{\"type\":\"register\",\"token\":[\"changeme\"]}", "token" },
	{ "{\"type\":\"register\",\"name\":{}}", "name" },
	{ "{\"type\":\"register\",\"protocol\":false}", "protocol" },
	{ "{\"type\":\"register\",\"client_id\":7}", "client_id" },
	{ "{\"type\":\"register\",\"pool_count\":\"8\"}", "pool_count" },
	{ "{\"type\":\"register\",\"local_ip\":1.5}", "local_ip" },
	{ "{\"type\":\"data\",\"data_id\":1}", "data_id" },
	{ "{\"type\":\"ctl\",\"cmd\":[]}", "cmd" },
	/* numbers out of range */
	{ "{\"type\":\"register\",\"local_port\":0}", "local_port" },
	{ "{\"type\":\"register\",\"local_port\":-1}", "local_port" },
	{ "{\"type\":\"register\",\"local_port\":65536}", "local_port" },
	{ "{\"type\":\"register\",\"local_port\":4294967318}", "local_port" },
	{ "{\"type\":\"register\",\"local_port\":-9223372036854775808}", NULL },
	{ "{\"type\":\"register\",\"local_port\":99999999999999999999}", NULL },
	{ "{\"type\":\"register\",\"remote_port\":-1}", "remote_port" },
	{ "{\"type\":\"register\",\"remote_port\":65536}", "remote_port" },
	{ "{\"type\":\"register\",\"remote_port\":9223372036854775807}", "remote_port" },
	{ "{\"type\":\"register\",\"remote_port\":18446744073709551616}", NULL },
	{ "{\"type\":\"register\",\"pool_count\":-1}", "pool_count" },
	{ "{\"type\":\"register\",\"max_conns\":1000001}", "max_conns" },
	{ "{\"type\":\"register\",\"conn_rate\":-1}", "conn_rate" },
	{ "{\"type\":\"register\",\"conn_burst\":\"5\"}", "conn_burst" },
	{ "{\"type\":\"register\",\"bandwidth_limit\":8589934593}", "bandwidth_limit" },
	{ "{\"type\":\"register\",\"bandwidth_limit\":1.5}", "bandwidth_limit" },
	/* not an object */
	{ "[]", "object" },
	{ "[{\"type\":\"heartbeat\"}]", "object" },
	{ "\"register\"", "object" },
	{ "\"{\\\"type\\\":\\\"heartbeat\\\"}\"", "object" },
	{ "1", "object" },
	{ "-5", "object" },
	{ "0.5", "object" },
	{ "null", "object" },
	{ "true", "object" },
	{ "false", "object" },
	/* missing or unknown type */
	{ "{}", "type" },
	{ "{\"name\":\"x\",\"local_port\":22}", "type" },
	{ "{\"x\":{\"type\":\"heartbeat\"}}", "type" },
	{ "{\"type\":\"\"}", "type" },
	{ "{\"type\":\"bogus\"}", "type" },
	{ "{\"type\":\"Register\"}", "type" },
	{ "{\"type\":\"register \"}", "type" },
	{ "{\"type\":\" register\"}", "type" },
	{ "{\"TYPE\":\"register\"}", "type" },
	{ "{\"type\":\"registerx\"}", "type" },
	{ "{\"type\":\"heartbeat_ac\"}", "type" },
};

START_TEST(test_bad_input)
{
	struct msg	 m;
	char		 err[256];
	const char	*why = bad[_i].why;

	ck_assert_msg(parse(bad[_i].json, &m, err, sizeof(err)) == -1,
	    "accepted: %s", bad[_i].json);
	ck_assert_msg(err[0] != '\0', "no reason for %s", bad[_i].json);
	ck_assert_msg(strchr(err, '\n') == NULL, "multi-line reason: %s", err);
	if (why != NULL)
		ck_assert_msg(strstr(err, why) != NULL, "%s: reason '%s' lacks '%s'",
		    bad[_i].json, err, why);
}
END_TEST

/* A raw NUL byte anywhere inside the length is refused (not a shorter message). */
START_TEST(test_raw_nul)
{
	struct msg	 m;
	char		 err[256];
	static const char after[] = "{\"type\":\"heartbeat\"}\0";
	static const char in_str[] = "{\"type\":\"register\",\"token\":\"x\0y\"}";
	static const char first[] = "\0{\"type\":\"heartbeat\"}";
	static const char ws[] = "{\"type\":\"heartbeat\"\0}";

	ck_assert_int_eq(proto_parse(after, sizeof(after) - 1, &m, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "NUL"));
	ck_assert_int_eq(proto_parse(in_str, sizeof(in_str) - 1, &m, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "NUL"));
	ck_assert_int_eq(proto_parse(first, sizeof(first) - 1, &m, err, sizeof(err)), -1);
	ck_assert_int_eq(proto_parse(ws, sizeof(ws) - 1, &m, err, sizeof(err)), -1);
	/* Without the NUL, the first one is fine: len is honoured. */
	ck_assert_int_eq(proto_parse(after, sizeof(after) - 2, &m, err, sizeof(err)), 0);
}
END_TEST

/* The parser reads exactly len bytes: what follows in memory is not seen. */
START_TEST(test_len_honoured)
{
	struct msg	 m;
	char		 err[256];
	const char	*s = "{\"type\":\"heartbeat\"}garbage";

	ck_assert_int_eq(proto_parse(s, 20, &m, err, sizeof(err)), 0);
	ck_assert_int_eq(m.type, MSG_HEARTBEAT);
	ck_assert_int_eq(proto_parse(s, 19, &m, err, sizeof(err)), -1);
	ck_assert_int_eq(proto_parse(s, 21, &m, err, sizeof(err)), -1);
}
END_TEST

/* A failed parse leaves no half-filled message behind. */
START_TEST(test_failed_parse_clears)
{
	struct msg	m;
	char		err[256];

	ck_assert_int_eq(parse(SEED, &m, err, sizeof(err)), 0);
	ck_assert_int_eq(parse("{\"type\":\"register\",\"token\":\"secret\","
	    "\"local_port\":0}", &m, err, sizeof(err)), -1);
	ck_assert_int_ne(m.type, MSG_REGISTER);
	ck_assert(!MSG_HAS(&m, F_LOCAL_PORT));
	/* Reasons never echo a token back. */
	ck_assert_ptr_null(strstr(err, "secret"));
}
END_TEST

/* A small err buffer is truncated safely. */
START_TEST(test_small_errbuf)
{
	struct msg	m;
	char		err[8];

	memset(err, 'X', sizeof(err));
	ck_assert_int_eq(proto_parse("{]", 2, &m, err, sizeof(err)), -1);
	ck_assert_int_lt((int)strlen(err), (int)sizeof(err));
}
END_TEST

/* Encoding then parsing gives back every member (escapes included). */
START_TEST(test_encode_roundtrip)
{
	struct msg	 m, back;
	char		 out[FRAME_MAX], err[256];
	size_t		 len;

	msg_init(&m, MSG_REGISTER);
	msg_set_int(&m, F_LOCAL_PORT, 22);
	msg_set_int(&m, F_REMOTE_PORT, 0);
	msg_set_str(&m, F_TOKEN, "ch\"an\\ge\n\x01me/\xc3\xa9");
	msg_set_str(&m, F_NAME, "demo");
	msg_set_str(&m, F_PROTOCOL, "tcp");
	msg_set_str(&m, F_CLIENT_ID, "0123456789abcdef0123456789abcdef");
	msg_set_int(&m, F_POOL_COUNT, 8);
	msg_set_int(&m, F_MAX_CONNS, 3);
	msg_set_int(&m, F_BANDWIDTH_LIMIT, 2097152);
	ck_assert_int_eq(proto_encode(&m, out, &len), 0);
	ck_assert_ptr_null(memchr(out, '\0', len));
	ck_assert_msg(proto_parse(out, len, &back, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(back.type, MSG_REGISTER);
	ck_assert_uint_eq(back.present, m.present);
	ck_assert_int_eq(back.local_port, 22);
	ck_assert_int_eq(back.remote_port, 0);
	ck_assert_str_eq(back.token, m.token);
	ck_assert_str_eq(back.name, "demo");
	ck_assert_str_eq(back.client_id, m.client_id);
	ck_assert_int_eq(back.pool_count, 8);
	ck_assert_int_eq(back.max_conns, 3);
	ck_assert_int_eq(back.bandwidth_limit, 2097152);
}
END_TEST

/* The exact bytes of a register response (design.md). */
START_TEST(test_encode_register_response)
{
	struct msg	m;
	char		out[FRAME_MAX];
	size_t		len;
	const char	*want = "{\"type\":\"register_response\",\"status\":\"ok\","
	    "\"name\":\"gotunnel-demo\",\"client_id\":\"abc\",\"remote_port\":10022}";

	msg_init(&m, MSG_REGISTER_RESPONSE);
	msg_set_str(&m, F_STATUS, "ok");
	msg_set_str(&m, F_NAME, "gotunnel-demo");
	msg_set_int(&m, F_REMOTE_PORT, 10022);
	msg_set_str(&m, F_CLIENT_ID, "abc");
	ck_assert_int_eq(proto_encode(&m, out, &len), 0);
	ck_assert_uint_eq(len, strlen(want));
	ck_assert_mem_eq(out, want, len);
}
END_TEST

/* Every type encodes to a message the parser gives back as the same type. */
START_TEST(test_encode_every_type)
{
	struct msg	m, back;
	char		out[FRAME_MAX], err[256];
	size_t		len;

	for (int t = MSG_NONE + 1; t < MSG_NTYPES; t++) {
		msg_init(&m, (enum msg_type)t);
		ck_assert_int_eq(proto_encode(&m, out, &len), 0);
		ck_assert_int_eq(proto_parse(out, len, &back, err, sizeof(err)), 0);
		ck_assert_int_eq(back.type, t);
		ck_assert_str_eq(msg_type_name((enum msg_type)t), back.type_s);
	}
	ck_assert_str_eq(msg_type_name(MSG_NONE), "");
	ck_assert_str_eq(msg_type_name(MSG_NTYPES), "");
	/* A message without members is an empty object (and not a valid message). */
	memset(&m, 0, sizeof(m));
	ck_assert_int_eq(proto_encode(&m, out, &len), 0);
	ck_assert_uint_eq(len, 2);
	ck_assert_mem_eq(out, "{}", 2);
}
END_TEST

/* msg_set_str truncates to its field instead of overflowing. */
START_TEST(test_set_str_truncates)
{
	struct msg	m;
	char		v[600];

	memset(v, 'z', sizeof(v) - 1);
	v[sizeof(v) - 1] = '\0';
	msg_init(&m, MSG_ERROR);
	msg_set_str(&m, F_NAME, v);
	ck_assert_uint_eq(strlen(m.name), sizeof(m.name) - 1);
	msg_set_str(&m, F_ERROR, v);
	ck_assert_uint_eq(strlen(m.error), sizeof(m.error) - 1);
	ck_assert(MSG_HAS(&m, F_NAME) && MSG_HAS(&m, F_ERROR));
}
END_TEST

Suite *
suite_proto(void)
{
	Suite	*s = suite_create("proto");
	TCase	*tc = tcase_create("parse");
	TCase	*te = tcase_create("encode");

	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_seed_register);
	tcase_add_test(tc, test_register_full);
	tcase_add_test(tc, test_register_acl_members);
	tcase_add_loop_test(tc, test_good_types, 0,
	    sizeof(good_types) / sizeof(good_types[0]));
	tcase_add_test(tc, test_unknown_members_ignored);
	tcase_add_test(tc, test_same_key_other_objects);
	tcase_add_test(tc, test_port_limits_ok);
	tcase_add_test(tc, test_depth_limit);
	tcase_add_test(tc, test_depth_huge);
	tcase_add_test(tc, test_max_size_message);
	tcase_add_test(tc, test_string_lengths);
	tcase_add_loop_test(tc, test_bad_input, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, test_raw_nul);
	tcase_add_test(tc, test_len_honoured);
	tcase_add_test(tc, test_failed_parse_clears);
	tcase_add_test(tc, test_small_errbuf);
	suite_add_tcase(s, tc);

	tcase_set_timeout(te, 10);
	tcase_add_test(te, test_encode_roundtrip);
	tcase_add_test(te, test_encode_register_response);
	tcase_add_test(te, test_encode_every_type);
	tcase_add_test(te, test_set_str_truncates);
	suite_add_tcase(s, te);
	return s;
}
