package units

import (
	"slices"
	"testing"
)

func TestHelperEnvironment(t *testing.T) {
	env := HelperEnvironment()
	for _, want := range []string{"GOMAXPROCS=1", "GOMEMLIMIT=24MiB"} {
		if !slices.Contains(env, want) {
			t.Errorf("HelperEnvironment() = %q, want %s in it", env, want)
		}
	}
	if got := Environment("[Service]\nEnvironment=A=1 \"B=2\"\n  Environment=C=3\nEnvironmentFile=/x\n"); !slices.Equal(got, []string{"A=1", "B=2", "C=3"}) {
		t.Errorf("Environment: %q", got)
	}
}
