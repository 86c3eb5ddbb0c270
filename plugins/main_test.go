package plugins

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

// Binaries built once for all tests, by TestMain.
var (
	testPlugin, testPluginSum string
	v2Plugin, v2PluginSum     string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "plugins-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		var err error
		if testPlugin, testPluginSum, err = buildPlugin(dir, "./testdata/testplugin"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if v2Plugin, v2PluginSum, err = buildPlugin(dir, "./testdata/v2plugin"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		code := m.Run()
		if code == 0 {
			if err := goleak.Find(); err != nil {
				fmt.Fprintln(os.Stderr, "goleak:", err)
				return 1
			}
		}
		return code
	}()
	os.Exit(code)
}

// buildPlugin builds the main package pkg into dir and returns the binary
// and its SHA-256.
func buildPlugin(dir, pkg string) (path, sum string, err error) {
	path = filepath.Join(dir, filepath.Base(pkg))
	out, err := exec.Command("go", "build", "-o", path, pkg).CombinedOutput()
	if err != nil {
		return "", "", fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
	}
	if err := os.Chmod(path, 0o755); err != nil {
		return "", "", err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", "", err
	}
	h := sha256.Sum256(b)
	return path, hex.EncodeToString(h[:]), nil
}
