package deploy

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// mayReadEnv are the folders whose non-test code may touch the process environment: config,
// which reads every setting (and so is all the env scan needs to look at), the test-only
// helper internal/testdb, which reads TEST_DATABASE_URL, and internal/failpoint, which reads
// PARTNERFLOW_FAILPOINT in binaries built with the failpoints tag only (the crash-point suite's).
var mayReadEnv = []string{"config", "internal/testdb", "internal/failpoint"}

// envFuncs are the functions of package os that read or change the process environment.
var envFuncs = []string{"Getenv", "LookupEnv", "Setenv", "Unsetenv", "Clearenv", "Environ", "ExpandEnv"}

func TestOnlyConfigReadsTheEnvironment(t *testing.T) {
	uses, err := envUsesOutside(repoRoot, mayReadEnv)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range uses {
		t.Errorf("%s: only package config may touch the environment; add a config.Config field and pass it on", u)
	}
}

// TestEnvUseOutsideConfigIsRefused runs the check on a small module, so a check that can never
// fail does not pass unnoticed.
func TestEnvUseOutsideConfigIsRefused(t *testing.T) {
	root := t.TempDir()
	write := func(path, src string) {
		t.Helper()
		path = filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("config/config.go", "package config\n\nimport \"os\"\n\nvar X = os.Getenv(\"X\")\n")
	write("cmd/app/main.go", "package main\n\nimport \"os\"\n\nfunc main() { _ = os.Setenv(\"X\", \"1\") }\n")
	write("api/api.go", "package api\n\nimport (\n\t\"strings\"\n\tsys \"os\"\n)\n\n"+
		"var lookup = sys.LookupEnv\n\nvar n = strings.NewReader(sys.ExpandEnv(\"$HOME\")).Len()\n")
	write("worker/worker.go", "package worker\n\nimport . \"os\"\n\nvar all = Environ()\n")
	write("notify/notify.go", "package notify\n\nimport \"os\"\n\nvar dir = os.TempDir()\n\n"+
		"func Getenv(string) string { return \"\" }\n\nvar _ = Getenv(\"X\")\n")
	write("notify/notify_test.go", "package notify\n\nimport \"os\"\n\nvar _ = os.Getenv(\"TEST_ONLY\")\n")
	write("api/testdata/x.go", "package x\n\nimport \"os\"\n\nvar _ = os.Getenv(\"FIXTURE\")\n")

	uses, err := envUsesOutside(root, []string{"config"})
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, u := range uses {
		files = append(files, strings.SplitN(u, ":", 2)[0])
	}
	want := []string{
		filepath.Join("api", "api.go"),
		filepath.Join("api", "api.go"),
		filepath.Join("cmd", "app", "main.go"),
		filepath.Join("worker", "worker.go"),
	}
	if !slices.Equal(files, want) {
		t.Errorf("found %q, want uses in %q", uses, want)
	}
}

// envUsesOutside lists, as "file:line:col: os.Name", every reference to one of envFuncs in the
// non-test Go files under root outside the folders allowed (and their subfolders).
func envUsesOutside(root string, allowed []string) ([]string, error) {
	fset := token.NewFileSet()
	var uses []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			name := d.Name()
			if rel != "." && (name == "testdata" || name == "vendor" || name == "node_modules" ||
				strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			if slices.Contains(allowed, rel) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly|parser.SkipObjectResolution)
		if err != nil {
			return fmt.Errorf("parse %s: %w", rel, err)
		}
		local, dot := osImportName(f)
		if local == "" && !dot {
			return nil
		}
		if f, err = parser.ParseFile(fset, path, nil, parser.SkipObjectResolution); err != nil {
			return fmt.Errorf("parse %s: %w", rel, err)
		}
		report := func(n ast.Node, name string) {
			pos := fset.Position(n.Pos())
			uses = append(uses, fmt.Sprintf("%s:%d:%d: os.%s", filepath.FromSlash(rel), pos.Line, pos.Column, name))
		}
		declared := map[string]bool{} // the file's own functions shadow a dot-imported name
		for _, decl := range f.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok && fn.Recv == nil {
				declared[fn.Name.Name] = true
			}
		}
		var visit func(n ast.Node) bool
		visit = func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.SelectorExpr:
				if pkg, ok := x.X.(*ast.Ident); ok && local != "" && pkg.Name == local &&
					slices.Contains(envFuncs, x.Sel.Name) {
					report(x, x.Sel.Name)
				}
				ast.Inspect(x.X, visit) // not x.Sel: a field or method named Getenv is not os's
				return false
			case *ast.Ident:
				if dot && slices.Contains(envFuncs, x.Name) && !declared[x.Name] {
					report(x, x.Name)
				}
			}
			return true
		}
		ast.Inspect(f, visit)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return uses, nil
}

// osImportName is the name a file refers to package os by, or dot when it imports os with ".".
func osImportName(f *ast.File) (local string, dot bool) {
	for _, imp := range f.Imports {
		if p, err := strconv.Unquote(imp.Path.Value); err != nil || p != "os" {
			continue
		}
		switch {
		case imp.Name == nil:
			local = "os"
		case imp.Name.Name == ".":
			dot = true
		case imp.Name.Name != "_":
			local = imp.Name.Name
		}
	}
	return local, dot
}
