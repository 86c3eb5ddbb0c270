package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Size is a number of bytes, written as "64KiB", "512MiB", "1GiB", "10MB"
// or a bare number of bytes.
type Size int64

// Size units: binary (KiB = 1024) and decimal (KB = 1000). Units are
// matched without regard to case.
var sizeUnits = [...]struct {
	name string
	mult int64
}{
	{"b", 1},
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
}

// ParseSize reads a size like "64KiB", "1.5GiB", "10MB" or "4096".
func ParseSize(s string) (Size, error) {
	bad := fmt.Errorf("%q is not a size like 64KiB, 512MiB or 1GiB", s)
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i < 0 {
		i = len(t)
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	mult := int64(-1)
	if unit == "" {
		mult = 1
	}
	for _, u := range sizeUnits {
		if u.name == unit {
			mult = u.mult
		}
	}
	if num == "" || mult < 0 {
		return 0, bad
	}
	if n, err := strconv.ParseInt(num, 10, 64); err == nil {
		if n > math.MaxInt64/mult {
			return 0, fmt.Errorf("%q is too large", s)
		}
		return Size(n * mult), nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, bad
	}
	b := math.Round(f * float64(mult))
	if b >= math.MaxInt64 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return Size(b), nil
}

// String writes the size in the largest binary unit that holds it exactly,
// so that ParseSize(s.String()) == s.
func (s Size) String() string {
	for _, u := range [...]struct {
		name string
		mult int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if s != 0 && int64(s)%u.mult == 0 {
			return strconv.FormatInt(int64(s)/u.mult, 10) + u.name
		}
	}
	return strconv.FormatInt(int64(s), 10) + "B"
}
