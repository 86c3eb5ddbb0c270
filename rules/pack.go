package rules

import (
	"embed"
)

//go:embed pack/*.yaml
var pack embed.FS

// Builtin returns the built-in rule pack.
func Builtin() ([]*Rule, error) {
	return Load(pack, "pack")
}
