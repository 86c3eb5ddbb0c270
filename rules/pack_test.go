package rules_test

import (
	"testing"

	"github.com/cyberalarm/cyberalarm/parsers"
	"github.com/cyberalarm/cyberalarm/rules"
)

// TestBuiltinPack compiles every built-in rule and runs its fire and quiet
// tests: real-world rules, compiled as tests.
func TestBuiltinPack(t *testing.T) {
	rs, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) == 0 {
		t.Fatal("the built-in pack is empty")
	}
	set, err := rules.Compile(rs)
	if err != nil {
		t.Fatal(err)
	}
	if set.Native() != set.Len() {
		for _, r := range rs {
			s, _ := rules.Compile([]*rules.Rule{r})
			if s.Native() == 0 {
				t.Logf("%s runs on expr, not natively: %s", r.ID, r.When)
			}
		}
	}
	results, err := rules.RunTests(rs, parsers.Builtin(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		for _, f := range r.Failures {
			t.Errorf("%s (%s:%d): %s", r.Rule.ID, r.Rule.File, r.Rule.Line, f)
		}
	}
	if findings := rules.Lint(rs, parsers.FieldCoverage()); len(findings) > 0 {
		for _, f := range findings {
			t.Errorf("lint: %s", f)
		}
	}
}
