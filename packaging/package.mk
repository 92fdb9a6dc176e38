# packaging/package.mk — the .deb and .rpm, built with nfpm. Included by the
# top Makefile before `test:`.
#
#   make package                    dist/aimx-mailboxd_<version>_amd64.deb and
#                                   dist/aimx-mailboxd_<version>_x86_64.rpm
#   make package PKG_VERSION=0.1.1  the same with an explicit version
#   make package-lint               lintian (no errors, no warnings) and
#                                   rpmlint (no errors); part of `make test`
#   make man                        man pages from docs/man/*.md
#   make -s print-deb | print-rpm | print-pkg-version
#
# Everything but Go comes from apt when missing; nfpm and go-md2man run through
# `go run` at pinned versions.

# nfpm 2.46 and later need modules from go.digitalxero.dev, which the Go
# module proxy does not serve (403); 2.45.2 builds from proxy.golang.org alone.
NFPM_VERSION := v2.45.2
MD2MAN_VERSION := v2.0.7
NFPM = $(GO) run github.com/goreleaser/nfpm/v2/cmd/nfpm@$(NFPM_VERSION)
MD2MAN = $(GO) run github.com/cpuguy83/go-md2man/v2@$(MD2MAN_VERSION)

PKG_NAME := aimx-mailboxd
PKG_STAGE := .cache/pkg
PKG_MAINTAINER ?= aimx-mailboxd maintainers <aimx-mailboxd@users.noreply.github.com>
ifeq ($(origin PKG_VERSION),undefined)
PKG_VERSION := $(shell packaging/pkg-version.sh)
endif
# cgo means native builds only: the package is for the machine's own arch.
PKG_GOARCH := $(shell $(GO) env GOARCH)
PKG_DEB_ARCH := $(PKG_GOARCH)
PKG_RPM_ARCH := $(or $(filter-out amd64 arm64,$(PKG_GOARCH)),$(if $(filter amd64,$(PKG_GOARCH)),x86_64,aarch64))
PKG_DEB := dist/$(PKG_NAME)_$(PKG_VERSION)_$(PKG_DEB_ARCH).deb
PKG_RPM := dist/$(PKG_NAME)_$(PKG_VERSION)_$(PKG_RPM_ARCH).rpm

MAN_SRC := docs/man/aimx-mailboxes.1.md docs/man/aimx-mailboxd.8.md

.PHONY: package pkg-binaries pkg-stage man package-lint package-smoke lintian rpmlint \
	print-deb print-rpm print-pkg-version
TEST_TARGETS += package-lint package-smoke
# What the binaries, the packages and the checks need from apt (mk/tools.mk).
PKG_BIN_TOOLS := gcc:gcc+libc6-dev strip:binutils readelf:binutils
PKG_TOOLS := $(PKG_BIN_TOOLS) dpkg-shlibdeps:dpkg-dev
STEP_TOOLS_package-lint := $(PKG_TOOLS) lintian:lintian rpmlint:rpmlint
STEP_TOOLS_package-smoke := $(PKG_TOOLS) systemd-socket-activate:systemd rpm:rpm
ROOT_ONLY += package-smoke
ROOT_WHY_package-smoke := mount namespace, overlayfs, chroot

print-deb:
	@echo $(PKG_DEB)
print-rpm:
	@echo $(PKG_RPM)
print-pkg-version:
	@echo $(PKG_VERSION)

# The binaries as packaged: the top Makefile's -trimpath and version stamp
# ($(LDFLAGS)), plus cgo on (os/user resolves users through NSS, so LDAP, sssd
# and systemd-userdb users work), PIE, BIND_NOW and full RELRO, the cgo C parts
# built with Debian's hardening flags; then stripped the way dh_strip does.
PKG_GOBUILD = CGO_ENABLED=1 CGO_CPPFLAGS='-D_FORTIFY_SOURCE=2' \
	CGO_CFLAGS='-O2 -fstack-protector-strong' CGO_LDFLAGS='-Wl,-z,relro -Wl,-z,now' \
	$(GO) build -trimpath -buildmode=pie -ldflags '$(LDFLAGS) -bindnow'
pkg-binaries:
	@$(call need-tool,gcc,gcc libc6-dev)
	@$(call need-tool,strip,binutils)
	@mkdir -p $(PKG_STAGE)/bin
	$(PKG_GOBUILD) -o $(PKG_STAGE)/bin/aimx-mailboxd ./cmd/aimx-mailboxd
	$(PKG_GOBUILD) -o $(PKG_STAGE)/bin/aimx-mailboxes ./cmd/aimx-mailboxes
	@for b in aimx-mailboxd aimx-mailboxes; do \
		readelf -d $(PKG_STAGE)/bin/$$b | grep -q 'NEEDED.*libc\.so' || \
			{ echo "error: $$b is not linked against libc: cgo is off (CGO_ENABLED=1 and gcc are required)" >&2; exit 1; }; \
		strip --remove-section=.comment --remove-section=.note $(PKG_STAGE)/bin/$$b; \
	done

# Man pages: roff under $(PKG_STAGE)/manpath (for `man` and systemd-analyze
# verify), gzip -9n copies under $(PKG_STAGE)/man (for the packages).
man:
	@mkdir -p $(PKG_STAGE)/manpath/man1 $(PKG_STAGE)/manpath/man8 $(PKG_STAGE)/man
	@for src in $(MAN_SRC); do \
		page=$$(basename $$src .md); sec=$${page##*.}; \
		$(MD2MAN) -in $$src -out $(PKG_STAGE)/manpath/man$$sec/$$page || exit 1; \
		gzip -9n -c $(PKG_STAGE)/manpath/man$$sec/$$page > $(PKG_STAGE)/man/$$page.gz; \
	done

# Everything nfpm reads from $(PKG_STAGE) besides binaries and man pages.
pkg-stage: pkg-binaries
	@$(call need-tool,dpkg-shlibdeps,dpkg-dev)
	@mkdir -p $(PKG_STAGE)/scripts/deb $(PKG_STAGE)/scripts/rpm
	@# Splice the shared config-seeding function into the install scripts.
	@for s in deb/postinst rpm/post; do \
		awk 'FNR==NR { fn = fn $$0 "\n"; next } /^#AIMX_SEED_CONFIG#$$/ { printf "%s", fn; next } { print }' \
			packaging/scripts/config-seed.sh packaging/scripts/$$s > $(PKG_STAGE)/scripts/$$s || exit 1; \
	done
	@# The policy conffile, as shipped (package-smoke swaps in a changed copy).
	@cp packaging/mailboxd.toml $(PKG_STAGE)/mailboxd.toml
	@# The README: the project's when present, else this lane's section.
	@if [ -f README.md ]; then cp README.md $(PKG_STAGE)/README.md; \
		else cp packaging/README-section.md $(PKG_STAGE)/README.md; fi
	@# changelog.Debian.gz: one entry for this exact version.
	@printf '%s\n' \
		'- semver: "$(PKG_VERSION)-1"' \
		'  date: $(shell git log -1 --format=%cI 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)' \
		'  packager: "$(PKG_MAINTAINER)"' \
		'  deb: {urgency: medium, distributions: [unstable]}' \
		'  changes:' \
		'    - commit: "$(GIT_HASH)"' \
		'      note: "Build $(VERSION) of aimx-mailboxd; see the project history for changes."' \
		> $(PKG_STAGE)/changelog.yml
	@# The libc6 dependency, computed from the binaries like dh_shlibdeps does.
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; mkdir -p "$$tmp/debian"; \
	printf 'Source: $(PKG_NAME)\n\nPackage: $(PKG_NAME)\nArchitecture: any\n' > "$$tmp/debian/control"; \
	for b in aimx-mailboxd aimx-mailboxes; do cp $(PKG_STAGE)/bin/$$b "$$tmp/"; done; \
	(cd "$$tmp" && dpkg-shlibdeps -O aimx-mailboxd aimx-mailboxes 2>/dev/null) \
		| sed -n 's/^shlibs:Depends=//p' > $(PKG_STAGE)/deb-shlibs; \
	[ -s $(PKG_STAGE)/deb-shlibs ] || { echo "error: dpkg-shlibdeps found no shared-library dependency" >&2; exit 1; }

# $(call nfpm-pkg,PACKAGER,VERSION,TARGET): one nfpm run over the staged tree.
nfpm-pkg = PKG_VERSION='$(2)' PKG_GOARCH='$(PKG_GOARCH)' PKG_MAINTAINER='$(PKG_MAINTAINER)' \
	PKG_DEB_SHLIBS="$$(cat $(PKG_STAGE)/deb-shlibs)" \
	$(NFPM) package --config packaging/nfpm.yaml --packager $(1) --target $(3)

package: pkg-binaries man completions pkg-stage
	@mkdir -p dist
	@rm -f $(PKG_DEB) $(PKG_RPM)
	$(call nfpm-pkg,deb,$(PKG_VERSION),$(PKG_DEB))
	$(call nfpm-pkg,rpm,$(PKG_VERSION),$(PKG_RPM))
	@echo "built $(PKG_DEB)"; echo "built $(PKG_RPM)"

package-lint: lintian rpmlint

# No errors and no warnings; informational tags are shown but do not fail.
lintian: package
	@$(call need-tool,lintian,lintian)
	lintian --allow-root --fail-on error,warning --display-info --tag-display-limit 0 $(PKG_DEB)
	@echo "ok   lintian: $(PKG_DEB)"

# No errors (rpmlint exits non-zero on any error); warnings are shown.
# nfpm (rpmpack) stores absolute paths in the rpm payload, and rpmlint unpacks
# with a bare `cpio -id`, which would write the package's files into this
# machine's /usr. A cpio that adds --no-absolute-filenames, first in PATH for
# rpmlint only, keeps the unpacking inside rpmlint's scratch folder.
# python3-magic lets rpmlint recognise the ELF binaries it unpacks.
rpmlint: package
	@$(call need-tool,rpmlint,rpmlint)
	@/usr/bin/python3 -c 'import magic' 2>/dev/null || $(call apt-install,python3-magic)
	@mkdir -p .cache/rpmlint-bin
	@printf '#!/bin/sh\nexec /usr/bin/cpio --no-absolute-filenames "$$@"\n' > .cache/rpmlint-bin/cpio
	@chmod +x .cache/rpmlint-bin/cpio
	PATH="$(CURDIR)/.cache/rpmlint-bin:$$PATH" rpmlint -c packaging/rpmlint.toml $(PKG_RPM)
	@echo "ok   rpmlint: $(PKG_RPM)"

# Install, upgrade (to a second build, version $(PKG_VERSION)+smoke, kept out
# of dist/ in $(PKG_STAGE)/smoke), remove
# and purge the deb, and install/upgrade/erase the rpm, with the real dpkg and
# rpm in a throwaway overlay of this machine; a user drives the installed
# helper through the CLI. See packaging/smoke.sh; skips without root/mounts.
PKG_SMOKE_VERSION = $(PKG_VERSION)+smoke
PKG_SMOKE_DEB = $(PKG_STAGE)/smoke/$(PKG_NAME)_$(PKG_SMOKE_VERSION)_$(PKG_DEB_ARCH).deb
PKG_SMOKE_RPM = $(PKG_STAGE)/smoke/$(PKG_NAME)_$(PKG_SMOKE_VERSION)_$(PKG_RPM_ARCH).rpm
package-smoke: package
	@mkdir -p $(PKG_STAGE)/smoke
	@$(call need-tool,systemd-socket-activate,systemd)
	@$(call need-tool,rpm,rpm)
	@# The upgrade ships a changed policy file, so that keeping the operator's
	@# edit is the conffile handling's doing (dpkg conffile, rpm noreplace).
	@printf '# (changed in the +smoke build)\n' >> $(PKG_STAGE)/mailboxd.toml; \
	$(call nfpm-pkg,deb,$(PKG_SMOKE_VERSION),$(PKG_SMOKE_DEB)) >/dev/null && \
	$(call nfpm-pkg,rpm,$(PKG_SMOKE_VERSION),$(PKG_SMOKE_RPM)) >/dev/null; rc=$$?; \
	cp packaging/mailboxd.toml $(PKG_STAGE)/mailboxd.toml; exit $$rc
	packaging/smoke.sh $(PKG_DEB) $(PKG_SMOKE_DEB) $(PKG_RPM) $(PKG_SMOKE_RPM)
