package passwd

// LookupName resolves a user name in System.
func LookupName(name string) (User, error) { return System.LookupName(name) }

// LookupNames resolves several user names in System.
func LookupNames(names []string) (map[string]User, error) { return System.LookupNames(names) }
