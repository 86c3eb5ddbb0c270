package technique

import (
	"testing"

	"github.com/cyberalarm/cyberalarm/rules"
)

func TestName(t *testing.T) {
	for id, want := range map[string]string{
		"T1110.003": "Password spraying (one password, many accounts)", // its own entry
		"T1110.002": "Password guessing",                               // its parent's
		"T1190":     "Attacks on websites and internet-facing devices",
		"spam":      "Spam runs",
		"T9999":     "T9999", // unknown: the id itself
		"T9999.001": "T9999.001",
		"":          "",
	} {
		if got := Name(id); got != want {
			t.Errorf("Name(%q) = %q, want %q", id, got, want)
		}
	}
}

func TestParent(t *testing.T) {
	for id, want := range map[string]string{"T1110.001": "T1110", "T1110": "T1110", "spam": "spam", "x.y": "x.y", ".1": ".1"} {
		if got := Parent(id); got != want {
			t.Errorf("Parent(%q) = %q, want %q", id, got, want)
		}
	}
}

// TestPackCovered: every technique the built-in rule pack tags a
// detection with has a plain name of its own, not a fallback.
func TestPackCovered(t *testing.T) {
	rs, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		for _, id := range r.Techniques {
			if _, ok := names[id]; !ok {
				t.Errorf("rule %s: technique %s has no plain name", r.ID, id)
			}
		}
	}
}
