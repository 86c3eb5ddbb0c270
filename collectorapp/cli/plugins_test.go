package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestPluginScripts runs the scripts in testdata/plugins with the example
// plugin built: its path is $KX_PLUGIN and its SHA-256 $KX_SHA256, which
// the scripts' `expand FILE...` command writes into their config files.
func TestPluginScripts(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "kestrelfw")
	if out, err := exec.Command("go", "build", "-o", bin, "../../plugins/examples/kestrelfw").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	testscript.Run(t, testscript.Params{
		Dir: "testdata/plugins",
		Setup: func(env *testscript.Env) error {
			env.Setenv("KX_PLUGIN", bin)
			env.Setenv("KX_SHA256", hex.EncodeToString(sum[:]))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"expand": expandCmd,
		},
	})
}

// expandCmd replaces $NAME and ${NAME} in each file with the script's
// environment.
func expandCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: expand FILE...")
	}
	for _, f := range args {
		data := ts.ReadFile(f)
		if err := os.WriteFile(ts.MkAbs(f), []byte(os.Expand(data, ts.Getenv)), 0o644); err != nil {
			ts.Fatalf("%v", fmt.Errorf("expand: %w", err))
		}
	}
}
