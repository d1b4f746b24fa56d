# SPDX-License-Identifier: ISC
# admin/admin.mk: gotunnel-admin (included by the top Makefile).
#   make admin        bin/gotunnel-admin (launcher) + bin/gotunnel-admin.so (Kore module)
#   make check-admin  end-to-end tests of the admin (t/admin/run.py)
#
# The module is loaded into Debian's /usr/bin/kore, so it is built with
# Kore's feature flags (struct layout must match the binary), with -fPIC,
# and never with the sanitizers (the kore binary is not instrumented).

KORE_FEATURES	:= $(shell cat /usr/share/kore/features 2>/dev/null)
ADMIN_CFLAGS	:= -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wshadow -Wpointer-arith \
		   -Wno-unused-parameter -D_GNU_SOURCE -fPIC \
		   -DGOTUNNEL_VERSION='"$(VERSION)"' $(KORE_FEATURES) -Icommon -Iadmin/src
ADMIN_LIBS	:= -lsodium -llmdb -lyajl -linih -lcrypto -loath -lpq
ADMIN_OBJDIR	:= build/admin

ADMIN_MOD_SRC	:= admin/src/module.c admin/src/json.c admin/src/auth.c \
		   admin/src/api_live.c admin/src/api_history.c admin/src/api_stats.c \
		   admin/src/static.c admin/src/conf.c admin/src/api_metrics.c \
		   admin/src/api_mapping.c admin/src/api_settings.c \
		   admin/src/access.c admin/src/api_websess.c admin/src/api_tokens.c \
		   admin/src/json_parse.c admin/src/url.c admin/src/hist_state.c \
		   admin/src/api_cluster.c admin/src/api_alerts.c \
		   admin/src/pgq.c admin/src/cluster_hist.c
ADMIN_COMMON	:= common/db.c common/db_rec.c common/log.c common/xmalloc.c common/db_user.c \
		   common/db_websess.c common/db_audit.c common/metrics.c \
		   common/db_mapstate.c common/tls_fp.c common/totp.c common/db_prune.c \
		   common/db_outbox.c \
		   common/db_token.c common/cidr.c common/portrange.c common/conf_ini.c \
		   common/db_alert.c
ADMIN_MOD_OBJ	:= $(patsubst %.c,$(ADMIN_OBJDIR)/%.o,$(ADMIN_MOD_SRC) $(ADMIN_COMMON))
ADMIN_HDRS	:= $(wildcard admin/src/*.h common/*.h)

ADMIN_TOOL	:= $(ADMIN_OBJDIR)/gtadmin-fixture

.PHONY: admin check-admin
admin: $(BINDIR)/gotunnel-admin $(BINDIR)/gotunnel-admin.so

$(ADMIN_OBJDIR)/%.o: %.c $(ADMIN_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(ADMIN_CFLAGS) -c -o $@ $<

$(BINDIR)/gotunnel-admin.so: $(ADMIN_MOD_OBJ)
	@mkdir -p $(BINDIR)
	$(CC) -shared -Wl,-Bsymbolic -Wl,-z,now -o $@ $^ $(ADMIN_LIBS)

$(BINDIR)/gotunnel-admin: $(ADMIN_OBJDIR)/admin/src/launcher.o $(ADMIN_OBJDIR)/admin/src/conf.o \
		$(ADMIN_OBJDIR)/admin/src/tls.o
	@mkdir -p $(BINDIR)
	$(CC) -o $@ $^ -linih -levent -levent_openssl -lssl -lcrypto

# Test helper: writes LMDB records as the master would (and times ops).
$(ADMIN_TOOL): t/admin/fixture.c $(patsubst %.c,$(ADMIN_OBJDIR)/%.o,$(ADMIN_COMMON))
	$(CC) $(ADMIN_CFLAGS) -o $@ $^ $(ADMIN_LIBS)

$(ADMIN_OBJDIR)/ctl-user-test: t/admin/ctl_user_main.c ctl/ctl_user.c ctl/ctl_totp.c ctl/ctl_cluster.c common/cluster_sql.c $(patsubst %.c,$(ADMIN_OBJDIR)/%.o,$(ADMIN_COMMON))
	$(CC) $(ADMIN_CFLAGS) -o $@ $^ $(ADMIN_LIBS) -lqrencode -lpq -levent

# Uses the real master/client/gotunnelctl when they are built (bin/).
check-admin: admin $(ADMIN_TOOL) $(ADMIN_OBJDIR)/ctl-user-test
	ADMIN_BIN=$(BINDIR) GOTUNNEL_BIN=bin ADMIN_FIXTURE=$(ADMIN_TOOL) \
	    ADMIN_CTL_USER=$(ADMIN_OBJDIR)/ctl-user-test python3 t/admin/run.py

# Installed layout: the launcher finds the module in ../lib/gotunnel/.
.PHONY: install-admin uninstall-admin
install-admin: admin
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/gotunnel \
	    $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 755 $(BINDIR)/gotunnel-admin $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(BINDIR)/gotunnel-admin.so $(DESTDIR)$(PREFIX)/lib/gotunnel/
	install -m 644 man/gotunnel-admin.8 $(DESTDIR)$(PREFIX)/share/man/man8/

uninstall-admin:
	rm -f $(DESTDIR)$(PREFIX)/bin/gotunnel-admin \
	    $(DESTDIR)$(PREFIX)/lib/gotunnel/gotunnel-admin.so \
	    $(DESTDIR)$(PREFIX)/share/man/man8/gotunnel-admin.8
