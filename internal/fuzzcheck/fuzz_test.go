package fuzzcheck

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	fuzzTime = flag.Duration(
		"fuzztime", 5*time.Second, "how long each fuzz target runs (go test ./internal/fuzzcheck -args -fuzztime=30s)",
	)
	only = flag.String("fuzzonly", "", "run only the targets whose package/name contains this text")
	// One worker by default: CI runs this beside the other packages' tests on two cores.
	workers = flag.Int("fuzzworkers", 1, "fuzzing processes per target (go test -parallel)")
)

// repoRoot is the module's root, from this package's folder.
const repoRoot = "../.."

// target is one fuzz function and the package it is in, relative to the module root.
type target struct {
	Pkg  string // such as ./api
	Name string // such as FuzzJSONRequestBodies
}

func (t target) String() string { return t.Pkg + "." + t.Name }

// findTargets lists every `func FuzzXxx(*testing.F)` in the module's test files.
func findTargets(root string) ([]target, error) {
	var out []target
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (name == "testdata" || name == "vendor" || name == "node_modules" ||
				strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		file, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		pkg := "./" + filepath.ToSlash(rel)
		for _, decl := range file.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if ok && fn.Recv == nil && strings.HasPrefix(fn.Name.Name, "Fuzz") && takesTestingF(fn) {
				out = append(out, target{Pkg: pkg, Name: fn.Name.Name})
			}
		}
		return nil
	})
	slices.SortFunc(out, func(a, b target) int { return strings.Compare(a.String(), b.String()) })
	return out, err
}

func takesTestingF(fn *ast.FuncDecl) bool {
	params := fn.Type.Params.List
	if len(params) != 1 || len(params[0].Names) > 1 {
		return false
	}
	star, ok := params[0].Type.(*ast.StarExpr)
	if !ok {
		return false
	}
	sel, ok := star.X.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == "F"
}

// fuzz runs one target for d in the module at root and returns its output; the error is
// non-nil when the target found a failing input (written by Go to the package's
// testdata/fuzz/<name>/) or did not build.
func fuzz(ctx context.Context, root string, tg target, d time.Duration) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-run=^$", "-fuzz=^"+tg.Name+"$", "-fuzztime="+d.String(),
		fmt.Sprintf("-parallel=%d", max(*workers, 1)), tg.Pkg)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

// TestFuzzTargets runs every fuzz target of the module for -fuzztime each. Go already runs the
// seed corpora (f.Add and testdata/fuzz) with every `go test`; this goes on to fuzz.
func TestFuzzTargets(t *testing.T) {
	if testing.Short() {
		t.Skip("fuzzing takes minutes; run without -short")
	}
	targets, err := findTargets(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	if len(targets) == 0 {
		t.Fatal("no fuzz targets found")
	}
	start, ran := time.Now(), 0
	for _, tg := range targets {
		if *only != "" && !strings.Contains(tg.String(), *only) {
			continue
		}
		ran++
		t.Run(strings.TrimPrefix(tg.Pkg, "./")+"/"+tg.Name, func(t *testing.T) {
			began := time.Now()
			before := reproducers(repoRoot, tg)
			out, err := fuzz(t.Context(), repoRoot, tg, *fuzzTime)
			t.Logf(
				"%s: fuzzed %s, %s in all (build included)",
				tg, *fuzzTime, time.Since(began).Round(100*time.Millisecond),
			)
			if err != nil && deadlineRace(out) && len(reproducers(repoRoot, tg)) == len(before) {
				t.Logf(
					"%s stopped with the fuzz coordinator's deadline race (go.dev/issue/75804, fixed in Go 1.27) "+
						"and wrote no failing input: not a failure",
					tg,
				)
				return
			}
			if err != nil {
				t.Errorf("%s found a failure (%v); the input is saved under %s/testdata/fuzz/%s/, rerun it with "+
					"`go test -run=%s/<file> %s`:\n%s", tg, err, tg.Pkg, tg.Name, tg.Name, tg.Pkg, tail(out, 60))
			}
		})
	}
	t.Logf("%d of %d fuzz targets in %s", ran, len(targets), time.Since(start).Round(time.Second))
}

// TestFindsEveryFuzzTarget checks the finder on this module: the targets the issue asks for are
// all found, so one cannot drop out of CI unnoticed.
func TestFindsEveryFuzzTarget(t *testing.T) {
	targets, err := findTargets(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []target{
		{"./api", "FuzzJSONRequestBodies"}, {"./api", "FuzzSessionCookie"},
		{"./api", "FuzzPartnerCenterWebhook"}, {"./api", "FuzzPublicForms"},
		{"./links", "FuzzTokenRoundTrip"}, {"./codec", "FuzzRoundTrip"},
		{"./codec", "FuzzWorkflowBinding"}, {"./notify", "FuzzWebhookSignature"},
		{"./partnercenter", "FuzzWebhookEvent"}, {"./models", "FuzzDecodeCursor"},
	} {
		if !slices.Contains(targets, want) {
			t.Errorf("%s is not found among %v", want, targets)
		}
	}
}

// TestAFailingTargetFailsTheRun fuzzes a small module whose target fails, so a runner that
// cannot report a failure does not pass unnoticed.
func TestAFailingTargetFailsTheRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a fuzz binary")
	}
	root := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/broken\n\ngo 1.22\n",
		"broken/broken_test.go": `package broken

import "testing"

func FuzzBroken(f *testing.F) {
	f.Add("ok")
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 3 {
			t.Fatalf("too long: %q", s)
		}
	})
}
`,
	}
	for name, src := range files {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	targets, err := findTargets(root)
	if err != nil {
		t.Fatal(err)
	}
	if want := []target{{"./broken", "FuzzBroken"}}; !slices.Equal(targets, want) {
		t.Fatalf("found %v, want %v", targets, want)
	}
	out, err := fuzz(t.Context(), root, targets[0], 30*time.Second)
	if err == nil {
		t.Fatalf("a target that fails on any input longer than 3 bytes passed:\n%s", out)
	}
	saved, _ := filepath.Glob(filepath.Join(root, "broken", "testdata", "fuzz", "FuzzBroken", "*"))
	if len(saved) == 0 {
		t.Fatalf("the failing input was not saved:\n%s", out)
	}
}

// reproducers lists the failing inputs saved for a target.
func reproducers(root string, tg target) []string {
	files, _ := filepath.Glob(filepath.Join(root, filepath.FromSlash(tg.Pkg), "testdata", "fuzz", tg.Name, "*"))
	return files
}

// deadlineRace reports whether a fuzz run failed only because the fuzz coordinator lost the
// race between -fuzztime's deadline and its workers: Go before 1.27 then fails the target with
// "context deadline exceeded" although no input failed (go.dev/issue/75804).
func deadlineRace(out []byte) bool {
	return bytes.Contains(out, []byte("\n    context deadline exceeded\n")) &&
		!bytes.Contains(out, []byte("Failing input written"))
}

func tail(b []byte, lines int) string {
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = append([]string{fmt.Sprintf("... %d lines before", len(all)-lines)}, all[len(all)-lines:]...)
	}
	return strings.Join(all, "\n")
}

func TestDeadlineRaceIsToldApartFromAFailure(t *testing.T) {
	race := "fuzz: elapsed: 31s, execs: 101343 (0/sec), new interesting: 36 (total: 36)\n" +
		"--- FAIL: FuzzDiffApply (31.00s)\n    context deadline exceeded\nFAIL\nexit status 1\n"
	failure := "--- FAIL: FuzzX (0.71s)\n    --- FAIL: FuzzX (0.00s)\n" +
		"        x_test.go:36: context deadline exceeded\n    \n" +
		"    Failing input written to testdata/fuzz/FuzzX/687e9b8b0e328202\n"
	build := "# example.com/x\n./x_test.go:3:2: undefined: y\nFAIL\texample.com/x [build failed]\n"
	if !deadlineRace([]byte(race)) {
		t.Error("the coordinator's deadline race is taken for a failure")
	}
	if deadlineRace([]byte(failure)) || deadlineRace([]byte(build)) {
		t.Error("a failing input or a build failure is taken for the deadline race")
	}
}
