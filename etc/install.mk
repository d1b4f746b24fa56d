# SPDX-License-Identifier: ISC
# etc/install.mk: install, uninstall, ops tests (included by the top Makefile).
#   make install   [PREFIX=/usr/local] [DESTDIR=]   binaries, admin module,
#                  console, man pages, sample configs, systemd units, sysusers
#   make uninstall same variables; keeps configs that were edited or existed
#   make check-ops t/ops: install tree, units, hardened start, reload, metrics
#   make check-deb builds the .debs from a copy of the tree and runs lintian
#
# Layout (PREFIX=/usr/local):
#   sbin/gotunnel-master sbin/gotunnelctl sbin/gotunnel-admin (section 8)
#   bin/gotunnel-client (section 1)
#   lib/gotunnel/gotunnel-admin.so      (the launcher looks in ../lib/gotunnel)
#   share/gotunnel/console/             (frontend/dist, when it was built)
#   share/gotunnel/examples/*.ini       (the samples, always refreshed)
#   share/gotunnel/examples/gotunnel-alerts.yml (Prometheus alerting rules)
#   share/man/man{1,5,7,8}/
#   $(SYSTEMDUNITDIR)/*.service         (default PREFIX/lib/systemd/system)
#   $(SYSUSERSDIR)/gotunnel.conf        (default PREFIX/lib/sysusers.d)
#   $(SYSCONFDIR)/gotunnel/*.ini        (default /etc; never overwritten)
# The units and the samples name /usr/local paths; they are rewritten for
# PREFIX when installed.  Configs get mode 0640, group gotunnel when that
# group exists.  $(SHAREDIR)/install-configs records each config install
# created with its sha256, so uninstall removes it only when it is unchanged.

SYSCONFDIR	?= /etc
SYSTEMDUNITDIR	?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR	?= $(PREFIX)/lib/sysusers.d
SBINDIR		:= $(PREFIX)/sbin
UBINDIR		:= $(PREFIX)/bin
LIBGTDIR	:= $(PREFIX)/lib/gotunnel
SHAREDIR	:= $(PREFIX)/share/gotunnel
MANDIR		:= $(PREFIX)/share/man
CONFDIR		:= $(SYSCONFDIR)/gotunnel

UNITS		:= gotunnel-master.service gotunnel-admin.service \
		   gotunnel-client.service gotunnel-client@.service
CONFIGS		:= gotunnel.ini gotunnel-client.ini
MANPAGES	:= $(wildcard man/*.1 man/*.5 man/*.7 man/*.8)
# Rewrites the /usr/local paths of units and samples for PREFIX.
INSTALL_SED	:= sed -e 's|/usr/local/|$(PREFIX)/|g'

.PHONY: install install-files uninstall check-ops check-deb

# Builds the C programs, and the admin when Kore's headers are there; the
# console is installed only if it was built (`make frontend` needs npm).
install: c
	@if [ -f /usr/include/kore/kore.h ]; then $(MAKE) --no-print-directory admin; \
	 else echo "install: no Kore headers; gotunnel-admin not built"; fi
	@$(MAKE) --no-print-directory install-files

install-files:
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(UBINDIR) $(DESTDIR)$(SHAREDIR)/examples \
	    $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(CONFDIR)
	install -m 755 $(BINDIR)/gotunnel-master $(BINDIR)/gotunnelctl $(DESTDIR)$(SBINDIR)/
	install -m 755 $(BINDIR)/gotunnel-client $(DESTDIR)$(UBINDIR)/
	@if [ -f $(BINDIR)/gotunnel-admin ] && [ -f $(BINDIR)/gotunnel-admin.so ]; then \
	  echo "install gotunnel-admin, $(LIBGTDIR)/gotunnel-admin.so"; \
	  install -d $(DESTDIR)$(LIBGTDIR) && \
	  install -m 755 $(BINDIR)/gotunnel-admin $(DESTDIR)$(SBINDIR)/ && \
	  install -m 644 $(BINDIR)/gotunnel-admin.so $(DESTDIR)$(LIBGTDIR)/ || exit 1; \
	else echo "install: $(BINDIR)/gotunnel-admin(.so) not built; skipped"; fi
	@if [ -f frontend/dist/index.html ]; then \
	  echo "install console -> $(SHAREDIR)/console"; \
	  rm -rf $(DESTDIR)$(SHAREDIR)/console && install -d $(DESTDIR)$(SHAREDIR)/console && \
	  cp -R frontend/dist/. $(DESTDIR)$(SHAREDIR)/console/ && \
	  chmod -R u=rwX,go=rX $(DESTDIR)$(SHAREDIR)/console || exit 1; \
	else echo "install: frontend/dist not built (make frontend); console skipped"; fi
	@for m in $(MANPAGES); do s=$${m##*.}; \
	  install -d $(DESTDIR)$(MANDIR)/man$$s && \
	  install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s/ || exit 1; done
	@for u in $(UNITS); do \
	  $(INSTALL_SED) etc/systemd/$$u > $(DESTDIR)$(SYSTEMDUNITDIR)/$$u.tmp && \
	  chmod 644 $(DESTDIR)$(SYSTEMDUNITDIR)/$$u.tmp && \
	  mv -f $(DESTDIR)$(SYSTEMDUNITDIR)/$$u.tmp $(DESTDIR)$(SYSTEMDUNITDIR)/$$u || exit 1; done
	install -m 644 etc/systemd/gotunnel.sysusers $(DESTDIR)$(SYSUSERSDIR)/gotunnel.conf
	install -m 644 etc/prometheus/gotunnel-alerts.yml $(DESTDIR)$(SHAREDIR)/examples/
	@for c in $(CONFIGS); do \
	  $(INSTALL_SED) etc/$$c > $(DESTDIR)$(SHAREDIR)/examples/$$c && \
	  chmod 644 $(DESTDIR)$(SHAREDIR)/examples/$$c || exit 1; \
	  dst=$(DESTDIR)$(CONFDIR)/$$c; \
	  if [ -e $$dst ]; then echo "install: keeping existing $(CONFDIR)/$$c"; continue; fi; \
	  install -m 640 $(DESTDIR)$(SHAREDIR)/examples/$$c $$dst || exit 1; \
	  getent group gotunnel >/dev/null 2>&1 && chgrp gotunnel $$dst 2>/dev/null; \
	  echo "$$(sha256sum < $$dst | cut -c1-64) $(CONFDIR)/$$c" >> $(DESTDIR)$(SHAREDIR)/install-configs; \
	  echo "install: created $(CONFDIR)/$$c (edit its token)"; done
	@if [ -z "$(DESTDIR)" ] && ! getent passwd gotunnel >/dev/null 2>&1; then \
	  echo "install: create the user with: systemd-sysusers $(SYSUSERSDIR)/gotunnel.conf" \
	       "&& chgrp gotunnel $(CONFDIR)/*.ini; then systemctl daemon-reload"; fi

# Removes what install put; a config install created goes only if unchanged.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/gotunnel-master $(DESTDIR)$(SBINDIR)/gotunnelctl \
	    $(DESTDIR)$(SBINDIR)/gotunnel-admin $(DESTDIR)$(UBINDIR)/gotunnel-client \
	    $(DESTDIR)$(LIBGTDIR)/gotunnel-admin.so $(DESTDIR)$(SYSUSERSDIR)/gotunnel.conf
	rm -rf $(DESTDIR)$(SHAREDIR)/console
	rm -f $(addprefix $(DESTDIR)$(SHAREDIR)/examples/,$(CONFIGS) gotunnel-alerts.yml) \
	    $(addprefix $(DESTDIR)$(SYSTEMDUNITDIR)/,$(UNITS))
	@for m in $(MANPAGES); do s=$${m##*.}; \
	  rm -f $(DESTDIR)$(MANDIR)/man$$s/$${m##*/}; done
	@list=$(DESTDIR)$(SHAREDIR)/install-configs; \
	if [ -f $$list ]; then while read -r sum path; do \
	  f=$(DESTDIR)$$path; [ -f "$$f" ] || continue; \
	  if [ "$$(sha256sum < "$$f" | cut -c1-64)" = "$$sum" ]; then rm -f "$$f"; echo "removed $$path"; \
	  else echo "uninstall: keeping $$path (edited)"; fi; \
	done < $$list; rm -f $$list; fi
	-rmdir $(DESTDIR)$(SHAREDIR)/examples $(DESTDIR)$(SHAREDIR) $(DESTDIR)$(LIBGTDIR) \
	    $(DESTDIR)$(CONFDIR) 2>/dev/null || true
	@echo "uninstall: the user gotunnel and /var/lib/gotunnel (data) are left as they are"

# Ops tests: install tree, unit files, hardened start, reload, metrics.
# Needs root for the hardened start (namespaces, setpriv); skips it otherwise.
check-ops: c
	GOTUNNEL_BIN=$(BINDIR) python3 t/ops/run.py

# Debian packages (debhelper, lintian and the Build-Depends must be installed;
# frontend/dist must be built).  Slow (about a minute): not part of check-ops.
check-deb:
	sh t/ops/build-deb.sh
