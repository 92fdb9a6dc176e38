# make fresh-check: the two commands (make run, make test) on a freshly bootstrapped
# Debian 12 (minbase + git make sudo systemd ca-certificates, Go copied
# in), as root and as an ordinary user, each from a clean clone of HEAD;
# see mk/fresh-check.sh. Not part of make test. On success the wall
# times go into docs/DEVELOPING.md, between the fresh-check marker lines.
.PHONY: fresh-check
ROOT_WHY_fresh-check := debootstrap, chroot, mounts
fresh-check:
	@$(call root-only,fresh-check) $(call need-tools,debootstrap:debootstrap unshare:util-linux,make fresh-check); \
	GO=$(GO) mk/fresh-check.sh && \
	$(call splice,docs/DEVELOPING.md,fresh-check,.cache/fresh/fresh-check.md) && echo "docs/DEVELOPING.md: fresh-check wall times updated"
