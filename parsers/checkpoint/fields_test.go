package checkpoint

import (
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"slices"
	"strconv"
	"testing"
)

// TestNativeKeys checks that nativeKeys, which lets the scanners skip
// native for keys it does not file, lists exactly the names of native's
// cases, and that native files each of them.
func TestNativeKeys(t *testing.T) {
	file, err := parser.ParseFile(token.NewFileSet(), "fields.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var cases []string
	for _, d := range file.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "native" {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			if cc, ok := n.(*ast.CaseClause); ok {
				for _, e := range cc.List {
					if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						s, _ := strconv.Unquote(lit.Value)
						cases = append(cases, s)
					}
				}
			}
			return true
		})
	}
	if len(cases) == 0 {
		t.Fatal("no cases found in native")
	}
	keys := slices.Clone(nativeKeys[:])
	slices.Sort(cases)
	slices.Sort(keys)
	if !slices.Equal(cases, keys) {
		t.Fatalf("nativeKeys differ from native's cases:\nnativeKeys %q\ncases      %q", keys, cases)
	}
	for _, k := range nativeKeys {
		if !mayBeNative([]byte(k)) {
			t.Errorf("mayBeNative(%q) = false", k)
		}
		var f fields
		f.native([]byte(k), []byte("x"))
		if reflect.DeepEqual(f, fields{}) {
			t.Errorf("native does not file %q", k)
		}
	}
}
