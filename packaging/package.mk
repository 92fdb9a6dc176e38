# packaging/package.mk — the .deb and .rpm, built with nfpm. Included by the
# top Makefile before `test:`.
#
#   make package                    dist/aimx-mailboxd_<version>_amd64.deb and
#                                   dist/aimx-mailboxd-<version>-1.x86_64.rpm
#   make package PKG_VERSION=0.1.1  the same with an explicit version
#   make package-lint               lintian and rpmlint: no errors, no
#                                   warnings; part of `make test`
#   make package-repro              builds twice, checks the bytes are equal
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
PKG_MAINTAINER ?= aimx-mailboxd maintainers <aimx-mailboxd@users.noreply.github.com>
# PKG_VERSION comes from the top Makefile (packaging/pkg-version.sh).
# The package release: the packaging's own revision of one upstream version.
PKG_RELEASE := 1
# cgo (the CLI) means native builds only: the package is for the machine's own arch.
PKG_GOARCH := $(shell $(GO) env GOARCH)
PKG_DEB_ARCH := $(PKG_GOARCH)
PKG_RPM_ARCH := $(or $(filter-out amd64 arm64,$(PKG_GOARCH)),$(if $(filter amd64,$(PKG_GOARCH)),x86_64,aarch64))
# The rpm is named as rpmbuild names it, name-version-release.arch.rpm; the
# .deb keeps name_version_arch.deb, which the VM lane and users' scripts know.
PKG_DIST := dist
# The policy conffile as shipped (package-smoke's upgrade build ships a changed one).
PKG_POLICY := policy/mailboxd.toml
pkg-deb-file = $(PKG_NAME)_$(1)_$(PKG_DEB_ARCH).deb
pkg-rpm-file = $(PKG_NAME)-$(1)-$(PKG_RELEASE).$(PKG_RPM_ARCH).rpm
PKG_DEB = $(PKG_DIST)/$(call pkg-deb-file,$(PKG_VERSION))
PKG_RPM = $(PKG_DIST)/$(call pkg-rpm-file,$(PKG_VERSION))

MAN_SRC := docs/man/aimx-mailboxes.1.md docs/man/aimx-mailboxd.8.md

.PHONY: package pkg-binaries pkg-stage man package-lint package-smoke package-repro lintian rpmlint \
	print-deb print-rpm print-pkg-version
TEST_TARGETS += package-lint package-smoke package-repro
# What the binaries, the packages and the checks need from apt (mk/common.mk).
PKG_TOOLS := $(PKG_BIN_TOOLS) dpkg-shlibdeps:dpkg-dev
STEP_TOOLS_package-lint := $(PKG_TOOLS) lintian:lintian rpmlint:rpmlint rpm:rpm
STEP_TOOLS_package-smoke := $(PKG_TOOLS) systemd-socket-activate:systemd rpm:rpm
STEP_TOOLS_package-repro := $(PKG_TOOLS)
ROOT_ONLY += package-smoke
ROOT_WHY_package-smoke := mount namespace, overlayfs, chroot

print-deb:
	@echo $(PKG_DEB)
print-rpm:
	@echo $(PKG_RPM)
print-pkg-version:
	@echo $(PKG_VERSION)

# The binaries as packaged, both with the top Makefile's -trimpath and
# version stamp ($(LDFLAGS)), then stripped the way dh_strip does.
# - The helper, like `make build`'s, is static: CGO_ENABLED=0 and no PIE.
#   systemd starts it once per connection, and the dynamic loader, cgo's
#   thread start-up and PIE relocation cost each start 0.4-0.7 ms, more
#   than a request's own work (docs/PERFORMANCE.md). Users still resolve
#   through NSS: the passwd package reads /etc/passwd when nsswitch.conf
#   says files, else runs getent. Without libc the hardening left to choose
#   is the Go linker's own: no PIE (so no ASLR of the text; the helper takes
#   no code pointers from input, and its sandbox forbids W^X memory).
# - The CLI keeps cgo (the net package's resolver, os/user through NSS),
#   built as PIE with BIND_NOW and full RELRO and the C parts with Debian's
#   hardening flags. It is what links libc, so the computed libc6 (deb) and
#   glibc (rpm) dependency comes from it.
PKG_GOBUILD_STATIC = CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)'
PKG_GOBUILD_CGO = CGO_ENABLED=1 CGO_CPPFLAGS='-D_FORTIFY_SOURCE=2' \
	CGO_CFLAGS='-O2 -fstack-protector-strong' CGO_LDFLAGS='-Wl,-z,relro -Wl,-z,now' \
	$(GO) build -trimpath -buildmode=pie -ldflags '$(LDFLAGS) -bindnow'
pkg-binaries:
	@$(call need-tool,gcc,gcc libc6-dev)
	@$(call need-tool,strip,binutils)
	@mkdir -p $(PKG_STAGE)/bin
	$(PKG_GOBUILD_STATIC) -o $(PKG_STAGE)/bin/aimx-mailboxd ./cmd/aimx-mailboxd
	$(PKG_GOBUILD_CGO) -o $(PKG_STAGE)/bin/aimx-mailboxes ./cmd/aimx-mailboxes
	@! readelf -lW $(PKG_STAGE)/bin/aimx-mailboxd | grep -q 'INTERP\|DYNAMIC' || \
		{ echo "error: aimx-mailboxd is dynamically linked: it must be static (CGO_ENABLED=0, no PIE)" >&2; exit 1; }
	@readelf -d $(PKG_STAGE)/bin/aimx-mailboxes | grep -q 'NEEDED.*libc\.so' || \
		{ echo "error: aimx-mailboxes is not linked against libc: cgo is off (CGO_ENABLED=1 and gcc are required)" >&2; exit 1; }
	@for b in aimx-mailboxd aimx-mailboxes; do \
		strip --remove-section=.comment --remove-section=.note $(PKG_STAGE)/bin/$$b || exit 1; \
	done

# The man pages' date and footer: the commit's month, and this version.
PKG_MAN_DATE := $(shell LC_ALL=C TZ=UTC0 date -d @$(SOURCE_DATE_EPOCH) '+%B %Y')
# Man pages: roff under $(PKG_STAGE)/manpath (for `man` and systemd-analyze
# verify), gzip -9n copies under $(PKG_STAGE)/man (for the packages).
man:
	@mkdir -p $(PKG_STAGE)/manpath/man1 $(PKG_STAGE)/manpath/man8 $(PKG_STAGE)/man
	@for src in $(MAN_SRC); do \
		page=$$(basename $$src .md); sec=$${page##*.}; \
		sed '1s/^\([^ ]* [0-9]\) "[^"]*" [^ ]* /\1 "$(PKG_MAN_DATE)" "$(PKG_VERSION)" /' $$src \
			> $(PKG_STAGE)/man-$$page.md || exit 1; \
		$(MD2MAN) -in $(PKG_STAGE)/man-$$page.md -out $(PKG_STAGE)/manpath/man$$sec/$$page || exit 1; \
		gzip -9n -c $(PKG_STAGE)/manpath/man$$sec/$$page > $(PKG_STAGE)/man/$$page.gz; \
	done

# Everything nfpm reads from $(PKG_STAGE) besides binaries and man pages.
pkg-stage: pkg-binaries
	@$(call need-tool,dpkg-shlibdeps,dpkg-dev)
	@mkdir -p $(PKG_STAGE)/scripts/deb $(PKG_STAGE)/scripts/rpm
	@# Splice the shared pieces into the maintainer scripts, each at its
	@# marker line: the sysusers.d entry (preinst, %pre), the config-seeding
	@# function (postinst, %post), the clean-up functions (postrm, %postun).
	@for s in deb/preinst deb/postinst deb/postrm rpm/pre rpm/post rpm/postun; do \
		awk 'function put(f,  l) { while ((getline l < f) > 0) print l; close(f) } \
			/^#AIMX_SYSUSERS#$$/ { put("packaging/sysusers.conf"); next } \
			/^#AIMX_SEED_CONFIG#$$/ { put("packaging/scripts/config-seed.sh"); next } \
			/^#AIMX_CLEANUP#$$/ { put("packaging/scripts/cleanup.sh"); next } { print }' \
			packaging/scripts/$$s > $(PKG_STAGE)/scripts/$$s || exit 1; \
	done
	@# The policy conffile, as shipped (package-smoke swaps in a changed copy).
	@cp $(PKG_POLICY) $(PKG_STAGE)/mailboxd.toml
	@# The user's README (the developers' README.md is not for /usr/share/doc).
	@cp packaging/README.user.md $(PKG_STAGE)/README.md
	@# The rpm's %license files: every licence linked in (packaging/licenses.sh).
	@GO=$(GO) packaging/licenses.sh $(PKG_STAGE)/licenses $(PKG_STAGE)/bin/aimx-mailboxd $(PKG_STAGE)/bin/aimx-mailboxes \
		> $(PKG_STAGE)/licenses.yaml
	@awk 'FNR==NR { e = e $$0 "\n"; next } /^  #AIMX_LICENSES#$$/ { printf "%s", e; next } { print }' \
		$(PKG_STAGE)/licenses.yaml packaging/nfpm.yaml > $(PKG_STAGE)/nfpm.yaml
	@# The changelog (changelog.Debian.gz, %changelog), for this exact version.
	@packaging/changelog.sh $(PKG_VERSION) $(GIT_HASH) < packaging/changelog.yml > $(PKG_STAGE)/changelog.yml
	@# NEWS.Debian.gz, gzip -9n like changelog.Debian.gz. Its top entry is
	@# labelled as the changelog labels the same release: a build before that
	@# release (X.Y.Z~gitN.HASH) carries it under its own version.
	@top=$$(sed -n 's/^- semver: *//p' packaging/changelog.yml | head -n 1); \
	news=$$(sed -n '1s/^$(PKG_NAME) (\([^)]*\)-[0-9]*).*/\1/p' packaging/NEWS.Debian); \
	label=$$news; \
	if [ "$$news" = "$$top" ] && dpkg --compare-versions '$(PKG_VERSION)' lt "$$top"; then label='$(PKG_VERSION)'; fi; \
	sed "1s/^$(PKG_NAME) ([^)]*)/$(PKG_NAME) ($$label-$(PKG_RELEASE))/" packaging/NEWS.Debian | gzip -9n > $(PKG_STAGE)/NEWS.Debian.gz
	@# The libc dependency, computed from the CLI (the helper is static) as
	@# dh_shlibdeps does; the rpm's glibc >= X.Y is the same minimum.
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; mkdir -p "$$tmp/debian"; \
	printf 'Source: $(PKG_NAME)\n\nPackage: $(PKG_NAME)\nArchitecture: any\n' > "$$tmp/debian/control"; \
	cp $(PKG_STAGE)/bin/aimx-mailboxes "$$tmp/"; \
	(cd "$$tmp" && dpkg-shlibdeps -O aimx-mailboxes 2>/dev/null) \
		| sed -n 's/^shlibs:Depends=//p' > $(PKG_STAGE)/deb-shlibs; \
	grep -Eq '^libc6 \(>= [0-9.]+\)$$' $(PKG_STAGE)/deb-shlibs || \
		{ echo "error: dpkg-shlibdeps gave '$$(cat $(PKG_STAGE)/deb-shlibs)', not one libc6 (>= X.Y)" >&2; exit 1; }; \
	sed 's/^libc6 (>= \(.*\))$$/glibc >= \1/' $(PKG_STAGE)/deb-shlibs > $(PKG_STAGE)/rpm-glibc

# $(call nfpm-pkg,PACKAGER,VERSION,TARGET): one nfpm run over the staged tree.
nfpm-pkg = PKG_VERSION='$(2)' PKG_RELEASE='$(PKG_RELEASE)' PKG_GOARCH='$(PKG_GOARCH)' PKG_MAINTAINER='$(PKG_MAINTAINER)' \
	PKG_DEB_SHLIBS="$$(cat $(PKG_STAGE)/deb-shlibs)" PKG_RPM_GLIBC="$$(cat $(PKG_STAGE)/rpm-glibc)" \
	$(NFPM) package --config $(PKG_STAGE)/nfpm.yaml --packager $(1) --target $(3)

package: pkg-binaries man completions pkg-stage
	@mkdir -p $(PKG_DIST)
	@rm -f $(PKG_DEB) $(PKG_RPM)
	$(call nfpm-pkg,deb,$(PKG_VERSION),$(PKG_DEB))
	$(call nfpm-pkg,rpm,$(PKG_VERSION),$(PKG_RPM))
	@echo "built $(PKG_DEB)"; echo "built $(PKG_RPM)"

package-lint: lintian rpmlint

# No errors and no warnings; pedantic and informational tags, and the
# overrides with their reasons, are shown but do not fail. Two runs: with
# --show-overrides, lintian's exit code counts overridden tags too (an
# overridden error, statically-linked-binary, made it exit 2), so the
# first run only shows, and the second, without it, decides.
# lintian leaves files in its TMPDIR (mldbm-elf-*): each run gets a folder
# of its own, removed afterwards, so nothing is left in /tmp.
lintian: package
	@$(call need-tool,lintian,lintian)
	@t=$$(mktemp -d); TMPDIR=$$t lintian --allow-root --pedantic --display-info --show-overrides --tag-display-limit 0 $(PKG_DEB) || true; rm -rf "$$t"
	t=$$(mktemp -d); TMPDIR=$$t lintian --allow-root --fail-on error,warning --pedantic $(PKG_DEB); st=$$?; rm -rf "$$t"; exit $$st
	@echo "ok   lintian: $(PKG_DEB)"

# No errors and no warnings: rpmlint exits non-zero on an error only, so its
# summary line is checked too; every filter has its reason in rpmlint.toml.
# nfpm (rpmpack) stores absolute paths in the rpm payload, and rpmlint unpacks
# with a bare `cpio -id`, which would write the package's files into this
# machine's /usr. A cpio that adds --no-absolute-filenames, first in PATH for
# rpmlint only, keeps the unpacking inside rpmlint's scratch folder.
# python3-magic lets rpmlint recognise the ELF binaries it unpacks.
rpmlint: package
	@$(call need-tool,rpmlint,rpmlint)
	@$(call need-tool,rpm,rpm)
	@/usr/bin/python3 -c 'import magic' 2>/dev/null || $(call apt-install,python3-magic)
	@mkdir -p .cache/rpmlint-bin
	@printf '#!/bin/sh\nexec /usr/bin/cpio --no-absolute-filenames "$$@"\n' > .cache/rpmlint-bin/cpio
	@chmod +x .cache/rpmlint-bin/cpio
	@PATH="$(CURDIR)/.cache/rpmlint-bin:$$PATH" rpmlint -c packaging/rpmlint.toml $(PKG_RPM) | tee .cache/rpmlint.log; \
		[ $${PIPESTATUS[0]} = 0 ] && grep -q ' 0 errors, 0 warnings' .cache/rpmlint.log || \
		{ echo "FAIL rpmlint: errors or warnings on $(PKG_RPM) (fix them, or filter each with its reason in packaging/rpmlint.toml)" >&2; exit 1; }
	@echo "ok   rpmlint: $(PKG_RPM)"

# Install, upgrade (to a second build, version $(PKG_VERSION)+smoke, its
# binaries stamped with that version, kept out of dist/ in .cache/pkg-smoke),
# remove and purge the deb, and install/upgrade/erase the rpm, with the real
# dpkg and rpm in a throwaway overlay of this machine; a user drives the
# installed helper through the CLI. See packaging/smoke.sh; skips without
# root/mounts. The +smoke build ships a changed policy file, so that keeping
# the operator's edit is the conffile handling's doing (dpkg conffile, rpm
# noreplace). It leaves the stage holding the +smoke build; whatever needs
# this version's stage rebuilds it (`make package`).
PKG_SMOKE_VERSION = $(PKG_VERSION)+smoke
PKG_SMOKE_DIST := .cache/pkg-smoke
PKG_SMOKE_DEB = $(PKG_SMOKE_DIST)/$(call pkg-deb-file,$(PKG_SMOKE_VERSION))
PKG_SMOKE_RPM = $(PKG_SMOKE_DIST)/$(call pkg-rpm-file,$(PKG_SMOKE_VERSION))
package-smoke: package
	@$(call need-tool,systemd-socket-activate,systemd)
	@$(call need-tool,rpm,rpm)
	@rm -rf $(PKG_SMOKE_DIST) && mkdir -p $(PKG_SMOKE_DIST)
	@{ cat policy/mailboxd.toml; printf '# (changed in the +smoke build)\n'; } > $(PKG_SMOKE_DIST)/mailboxd.toml
	@$(MAKE) --no-print-directory -s package PKG_VERSION='$(PKG_SMOKE_VERSION)' PKG_DIST=$(PKG_SMOKE_DIST) \
		PKG_POLICY=$(PKG_SMOKE_DIST)/mailboxd.toml > $(PKG_SMOKE_DIST)/build.log 2>&1 || \
		{ cat $(PKG_SMOKE_DIST)/build.log >&2; exit 1; }
	packaging/smoke.sh $(PKG_DEB) $(PKG_SMOKE_DEB) $(PKG_RPM) $(PKG_SMOKE_RPM) $(VERSION)

# Reproducible builds: `make package` twice, each from an emptied stage
# folder (everything rebuilt; only Go's build cache is shared), into
# separate dist folders; every .deb and .rpm must be byte for byte the
# same. Prints each file that differs, and where (cmp). About 25 s.
PKG_REPRO := .cache/repro
package-repro:
	@rm -rf $(PKG_REPRO) && mkdir -p $(PKG_REPRO)
	@for run in 1 2; do \
		rm -rf $(PKG_STAGE) && \
		$(MAKE) --no-print-directory -s package PKG_DIST=$(PKG_REPRO)/dist$$run >$(PKG_REPRO)/build$$run.log 2>&1 || \
			{ cat $(PKG_REPRO)/build$$run.log >&2; exit 1; }; \
	done
	@rc=0; for f in $(notdir $(PKG_DEB) $(PKG_RPM)); do \
		if cmp $(PKG_REPRO)/dist1/$$f $(PKG_REPRO)/dist2/$$f; then echo "ok   package-repro: $$f is byte for byte the same in two builds"; \
		else echo "FAIL package-repro: $$f differs between two builds of the same commit" >&2; rc=1; fi; \
	done; exit $$rc
