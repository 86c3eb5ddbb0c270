package cve

import "strings"

// CompareVersions orders two software versions as NVD's version ranges
// mean them, returning -1, 0 or +1.
//
// A version is a run of tokens: digit runs compare as numbers (2.4.49 >
// 2.4.5, 1.20.1 > 1.6.18), letter runs compare case-insensitively (1.0.1f <
// 1.0.1g, 8.5p1 < 8.5p2), and separators (. - _ + ~) only separate. Zeros
// at the end change nothing (1.0 == 1.0.0). Where the tokens differ in
// kind, a pre-release word (dev, alpha, beta, pre, rc) comes first, then
// the end of the version, then a release letter or patch level, then a
// number: 2.0-rc1 < 2.0 < 2.0a < 2.0.1, 8.5 < 8.5p1 < 8.6, 1.0.1f <
// 1.0.1.1. This is a total order: comparisons are consistent with each
// other, so sorting by it and ranges over it behave.
//
// hashicorp/go-version and Masterminds/semver read 8.5p1, 1.0.1f and 1.0.2k
// as pre-releases or not at all, so they order such versions wrongly.
func CompareVersions(a, b string) int {
	var bufA, bufB [16]string
	ta, tb := tokens(a, bufA[:0]), tokens(b, bufB[:0])
	for i := 0; i < len(ta) || i < len(tb); i++ {
		var x, y string
		if i < len(ta) {
			x = ta[i]
		}
		if i < len(tb) {
			y = tb[i]
		}
		if c := compareTokens(x, y); c != 0 {
			return c
		}
	}
	return 0
}

// tokens splits v into its digit and letter runs and drops the zeros that
// change nothing: those at the end, and those just before a pre-release
// word (1.0.0-rc1 is 1-rc1, so that it sorts before 1.0).
func tokens(v string, ts []string) []string {
	for {
		t, rest := nextToken(v)
		if t == "" {
			break
		}
		if preRelease(t) >= 0 {
			for len(ts) > 0 && zero(ts[len(ts)-1]) {
				ts = ts[:len(ts)-1]
			}
		}
		ts = append(ts, t)
		v = rest
	}
	for len(ts) > 0 && zero(ts[len(ts)-1]) {
		ts = ts[:len(ts)-1]
	}
	return ts
}

func zero(t string) bool { return isDigit(t[0]) && strings.TrimLeft(t, "0") == "" }

// rank orders the kinds of token; "" is the end of the version.
func rank(t string) int {
	switch {
	case t == "":
		return 1
	case isDigit(t[0]):
		return 3
	case preRelease(t) >= 0:
		return 0
	}
	return 2
}

func compareTokens(a, b string) int {
	ra, rb := rank(a), rank(b)
	if ra != rb {
		return sign(ra - rb)
	}
	switch ra {
	case 0:
		return sign(preRelease(a) - preRelease(b))
	case 2:
		return sign(strings.Compare(strings.ToLower(a), strings.ToLower(b)))
	case 3:
		return compareNumbers(a, b)
	}
	return 0
}

// compareNumbers compares digit runs of any length without converting
// them, so no version overflows.
func compareNumbers(a, b string) int {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		return sign(len(a) - len(b))
	}
	return sign(strings.Compare(a, b))
}

// preRelease ranks the words that mark a release before the version they
// follow; -1 for any other letters.
func preRelease(t string) int {
	switch strings.ToLower(t) {
	case "dev", "snapshot":
		return 0
	case "alpha":
		return 1
	case "beta":
		return 2
	case "pre", "preview":
		return 3
	case "rc":
		return 4
	}
	return -1
}

// nextToken returns the first digit run or letter run of s and what
// follows it; any other byte separates tokens.
func nextToken(s string) (tok, rest string) {
	i := 0
	for i < len(s) && !isAlnum(s[i]) {
		i++
	}
	if i == len(s) {
		return "", ""
	}
	j := i + 1
	digit := isDigit(s[i])
	for j < len(s) && isAlnum(s[j]) && isDigit(s[j]) == digit {
		j++
	}
	return s[i:j], s[j:]
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isAlnum(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return +1
	}
	return 0
}
