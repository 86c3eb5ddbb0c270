package egress

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func testKey(fill byte) []byte { return bytes.Repeat([]byte{fill}, MinKeyLen) }

func mustPseudonymiser(t testing.TB, key []byte) *Pseudonymiser {
	t.Helper()
	p, err := NewPseudonymiser(key)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPseudonymMatchesHMAC(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef-member-7")
	p := mustPseudonymiser(t, key)
	for _, s := range []string{"10.1.2.3", "192.168.0.1", "fd00::1", "2001:db8::42"} {
		a := netip.MustParseAddr(s)
		ip := a.As16()
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte("cyberalarm egress address v1\x00"))
		mac.Write(ip[:])
		want := "h:" + hex.EncodeToString(mac.Sum(nil)[:16])
		if got := p.Pseudonym(a); got != want {
			t.Errorf("Pseudonym(%s) = %s, want %s", s, got, want)
		}
		if len(want) != PseudonymLen {
			t.Errorf("len(%q) = %d, want PseudonymLen %d", want, len(want), PseudonymLen)
		}
	}
}

func TestPseudonymStableAndKeyed(t *testing.T) {
	p1 := mustPseudonymiser(t, testKey('a'))
	p1again := mustPseudonymiser(t, testKey('a'))
	p2 := mustPseudonymiser(t, testKey('b'))
	a := netip.MustParseAddr("10.0.0.5")
	b := netip.MustParseAddr("10.0.0.6")
	if first := p1.Pseudonym(a); first != p1.Pseudonym(a) || first != p1again.Pseudonym(a) {
		t.Error("the same address and key give different pseudonyms")
	}
	if p1.Pseudonym(a) == p1.Pseudonym(b) {
		t.Error("two addresses share a pseudonym")
	}
	if p1.Pseudonym(a) == p2.Pseudonym(a) {
		t.Error("two keys give the same pseudonym")
	}
	if p1.Pseudonym(a) != p1.Pseudonym(netip.MustParseAddr("::ffff:10.0.0.5")) {
		t.Error("an IPv4-mapped address has its own pseudonym")
	}
	if p1.Pseudonym(netip.MustParseAddr("fe80::1%eth0")) != p1.Pseudonym(netip.MustParseAddr("fe80::1")) {
		t.Error("the zone changes the pseudonym")
	}
}

func TestPseudonymiserCopiesKey(t *testing.T) {
	key := testKey('k')
	p := mustPseudonymiser(t, key)
	a := netip.MustParseAddr("10.9.8.7")
	before := p.Pseudonym(a)
	key[0] = 'z'
	if p.Pseudonym(a) != before {
		t.Error("changing the caller's key slice changed the pseudonyms")
	}
}

func TestNewPseudonymiserShortKey(t *testing.T) {
	_, err := NewPseudonymiser(testKey('a')[:MinKeyLen-1])
	if err == nil || !strings.Contains(err.Error(), "at least 32") {
		t.Fatalf("err = %v, want a clear error about the key length", err)
	}
}

func TestPseudonymConcurrent(t *testing.T) {
	p := mustPseudonymiser(t, testKey('c'))
	a := netip.MustParseAddr("172.16.4.4")
	want := p.Pseudonym(a)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				if got := p.Pseudonym(a); got != want {
					t.Errorf("concurrent Pseudonym = %s, want %s", got, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestAppendPseudonymAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	p := mustPseudonymiser(t, testKey('d'))
	a := netip.MustParseAddr("10.1.1.1")
	buf := make([]byte, 0, 64)
	p.AppendPseudonym(buf, a)
	if n := testing.AllocsPerRun(100, func() { p.AppendPseudonym(buf[:0], a) }); n != 0 {
		t.Errorf("AppendPseudonym allocates %v times", n)
	}
}

func writeKey(t *testing.T, data []byte, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pseudonym.key")
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return path
}

func TestLoadKey(t *testing.T) {
	key := append(testKey('x'), '\n')
	got, err := LoadKey(writeKey(t, key, 0o600))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, key) {
		t.Errorf("LoadKey = %q, want the file's bytes %q", got, key)
	}
	if _, err := NewPseudonymiser(got); err != nil {
		t.Error(err)
	}
}

func TestLoadKeyErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		path string
		want string
	}{
		{"missing", filepath.Join(dir, "nope"), "no such file"},
		{"directory", dir, "not a regular file"},
		{"short", writeKey(t, []byte("0123456789\n"), 0o600), "11 bytes; it must be at least 32"},
		{"empty", writeKey(t, nil, 0o600), "0 bytes"},
		{"huge", writeKey(t, bytes.Repeat([]byte{'a'}, 5000), 0o600), "longer than 4096 bytes"},
		{"group readable", writeKey(t, testKey('a'), 0o640), "readable by group or others"},
		{"world readable", writeKey(t, testKey('a'), 0o604), "chmod 600"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadKey(c.path)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("LoadKey(%s) = %v, want an error containing %q", c.name, err, c.want)
			}
			if strings.Contains(c.name, "readable") && !errors.Is(err, ErrKeyPermissions) {
				t.Errorf("err = %v, want ErrKeyPermissions", err)
			}
			if !strings.Contains(err.Error(), c.path) {
				t.Errorf("err = %v does not name the file", err)
			}
		})
	}
}
