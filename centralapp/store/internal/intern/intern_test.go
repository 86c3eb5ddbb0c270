package intern

import (
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
)

func TestStrings(t *testing.T) {
	m := Strings{}
	text := "acme|globex"
	a := m.Of(text[:4])
	if a != "acme" || unsafe.StringData(a) == unsafe.StringData(text) {
		t.Fatalf("first: %q, shares the caller's text: %v", a, unsafe.StringData(a) == unsafe.StringData(text))
	}
	if b := m.Of("acme"); unsafe.StringData(b) != unsafe.StringData(a) {
		t.Fatal("the same text gave two strings")
	}
	if m.Of("globex") != "globex" || len(m) != 2 {
		t.Fatalf("kept %v", m)
	}
}

func TestLists(t *testing.T) {
	m := Lists{}
	if m.Of("") != nil {
		t.Fatal(`"" is not nil`)
	}
	a := m.Of("T1046,T1110")
	if diff := cmp.Diff([]string{"T1046", "T1110"}, a); diff != "" {
		t.Fatal(diff)
	}
	if b := m.Of("T1046,T1110"); &b[0] != &a[0] {
		t.Fatal("the same text gave two lists")
	}
}
