package aimxtest

import "fmt"

// Domain is the domain of every test config (BaseConfig).
const Domain = "example.test"

// BaseConfig is the smallest config a helper serves: a domain, no mailbox.
const BaseConfig = "domain = \"" + Domain + "\"\n"

// OK is the bare OK response of a CREATE or DELETE.
const OK = "AIMX/1 OK\n"

// Request frames without arguments.
const (
	List    = "AIMX/1 MAILBOX-LIST\n\n"
	Version = "AIMX/1 VERSION\n\n"
)

// Err is the exact error response with code and reason.
func Err(code, reason string) string {
	return fmt.Sprintf("AIMX/1 ERR %s %s\nCode: %s\n\n", code, reason, code)
}

// Create is a MAILBOX-CREATE frame; owner "" sends no Owner: header.
func Create(name, owner string) string {
	if owner != "" {
		return fmt.Sprintf("AIMX/1 MAILBOX-CREATE\nName: %s\nOwner: %s\n\n", name, owner)
	}
	return fmt.Sprintf("AIMX/1 MAILBOX-CREATE\nName: %s\n\n", name)
}

// Delete is a MAILBOX-DELETE frame, with Force: true when force.
func Delete(name string, force bool) string {
	if force {
		return fmt.Sprintf("AIMX/1 MAILBOX-DELETE\nName: %s\nForce: true\n\n", name)
	}
	return fmt.Sprintf("AIMX/1 MAILBOX-DELETE\nName: %s\n\n", name)
}

// Stanza is the text a CREATE of name for owner appends to a config of
// Domain.
func Stanza(name, owner string) string { return StanzaIn(Domain, name, owner) }

// StanzaIn is Stanza for a config of domain.
func StanzaIn(domain, name, owner string) string {
	return fmt.Sprintf("\n[mailboxes.%s]\naddress = \"%s@%s\"\nowner = \"%s\"\n", name, name, domain, owner)
}
