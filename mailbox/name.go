package mailbox

import (
	"fmt"
	"strings"
)

// NameError says which rule of docs/BEHAVIOR.md's "Names" a mailbox name broke.
type NameError struct {
	Name string
	Rule string
}

func (e *NameError) Error() string {
	return fmt.Sprintf("invalid mailbox name '%s': %s", e.Name, e.Rule)
}

// MaxNameLen is the longest mailbox name: the longest local part of an
// address (RFC 5321).
const MaxNameLen = 64

// ValidateName checks a mailbox name against docs/BEHAVIOR.md ("Names"). It
// returns a *NameError naming the rule that broke. No name reaches the
// filesystem or the config before it has passed this check.
func ValidateName(name string) error {
	rule := ""
	switch {
	case name == "":
		rule = "it must not be empty"
	case len(name) > MaxNameLen:
		rule = fmt.Sprintf("it must be at most %d bytes long (it is %d)", MaxNameLen, len(name))
	case strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789._-") != "":
		rule = "only lower-case letters, digits, '.', '_' and '-' are allowed"
	case strings.HasPrefix(name, "."):
		rule = "it must not start with '.'"
	case strings.HasSuffix(name, "."):
		rule = "it must not end with '.'"
	case strings.Contains(name, ".."):
		rule = "it must not contain '..'"
	case name == "catchall" || name == "aimx-catchall":
		rule = "it is reserved for the catch-all mailbox"
	default:
		return nil
	}
	return &NameError{Name: name, Rule: rule}
}
