package cve

import "testing"

func TestCompareVersions(t *testing.T) {
	// Each pair is a < b; the test checks both orders and each against
	// itself.
	less := [][2]string{
		{"2.4.5", "2.4.49"}, // numbers, not text
		{"2.4.49", "2.4.50"},
		{"2.4.9", "2.4.10"},
		{"1.0.1", "1.0.1a"}, // OpenSSL letter releases come after the number
		{"1.0.1f", "1.0.1g"},
		{"1.0.1g", "1.0.1h"},
		{"1.0.1z", "1.0.2"},
		{"1.0.1f", "1.0.2k"},
		{"1.0.2k", "1.0.2l"},
		{"1.0.2k", "1.1.0"},
		{"1.0.1f", "1.0.1.1"}, // a letter before the next number
		{"8.5", "8.5p1"},      // OpenSSH portable patch levels
		{"8.5p1", "8.5p2"},
		{"8.5p2", "8.6"},
		{"8.5p1", "8.6p1"},
		{"9.7p1", "9.8"},
		{"9.8", "9.8p1"},
		{"9.8p1", "9.9p1"},
		{"4.3p2", "4.4"},
		{"4.4", "4.4p1"},
		{"0.6.17", "0.6.18"},
		{"0.6.18", "1.20.1"},
		{"1.20.0", "1.20.1"},
		{"1.9.15", "1.20.0"},
		{"4.86", "4.87"},
		{"4.91", "4.92"},
		{"4.9", "4.87"},
		{"2.3.4", "2.3.5"},
		{"2.0-rc1", "2.0"}, // pre-releases come before the release
		{"2.0-alpha", "2.0-beta"},
		{"2.0-beta2", "2.0-rc1"},
		{"2.0.0-dev", "2.0.0-alpha1"},
		{"2.0rc1", "2.0.1"},
		{"1.0.0-beta", "1.0"},
		{"2.0", "2.0a"},
		{"2.0a", "2.0.1"},
		{"1 0A0", "1.0.0.1"},
		{"1", "1 0A0"},
		{"r13", "r23"},
		{"2020.79", "2020.81"},
		{"18446744073709551615", "18446744073709551616"}, // no overflow
	}
	for _, p := range less {
		if c := CompareVersions(p[0], p[1]); c != -1 {
			t.Errorf("CompareVersions(%q, %q) = %d, want -1", p[0], p[1], c)
		}
		if c := CompareVersions(p[1], p[0]); c != +1 {
			t.Errorf("CompareVersions(%q, %q) = %d, want +1", p[1], p[0], c)
		}
		for _, v := range p {
			if c := CompareVersions(v, v); c != 0 {
				t.Errorf("CompareVersions(%q, %q) = %d, want 0", v, v, c)
			}
		}
	}
	equal := [][2]string{
		{"1.0", "1.0.0"},
		{"2.4.049", "2.4.49"},
		{"1.0.1F", "1.0.1f"},
		{"8.5p1", "8.5.p1"},
		{"1.2-3", "1.2.3"},
		{"", ""},
		{"0", ""},
	}
	for _, p := range equal {
		if c := CompareVersions(p[0], p[1]); c != 0 {
			t.Errorf("CompareVersions(%q, %q) = %d, want 0", p[0], p[1], c)
		}
		if c := CompareVersions(p[1], p[0]); c != 0 {
			t.Errorf("CompareVersions(%q, %q) = %d, want 0", p[1], p[0], c)
		}
	}
}

// FuzzCompareVersions checks that the order is one: antisymmetric, and
// transitive through a third version.
func FuzzCompareVersions(f *testing.F) {
	for _, s := range [][3]string{{"8.5p1", "9.8", "9.8p1"}, {"1.0.1f", "1.0.2k", "1.0.1"}, {"2.4.49", "2.4.5", "2.0-rc1"}} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, a, b, c string) {
		ab, ba := CompareVersions(a, b), CompareVersions(b, a)
		if ab != -ba {
			t.Fatalf("Compare(%q, %q) = %d but Compare(%q, %q) = %d", a, b, ab, b, a, ba)
		}
		bc, ac := CompareVersions(b, c), CompareVersions(a, c)
		if ab <= 0 && bc <= 0 && ac > 0 {
			t.Fatalf("%q <= %q <= %q but Compare(%q, %q) = %d", a, b, c, a, c, ac)
		}
	})
}
