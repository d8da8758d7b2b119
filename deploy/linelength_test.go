package deploy

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// maxColumns is the widest a line of Go may be, with a tab counted as tabWidth columns.
const (
	maxColumns = 120
	tabWidth   = 4
)

func TestGoLinesFit120Columns(t *testing.T) {
	long, err := longLines(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range long {
		t.Errorf("%s: wrap it (a tab counts %d columns)", l, tabWidth)
	}
}

// TestALongLineIsFound runs the check on a small tree, so a check that can never fail does not
// pass unnoticed.
func TestALongLineIsFound(t *testing.T) {
	root := t.TempDir()
	fits := "package p\n\n// " + strings.Repeat("é", maxColumns-3) + "\n"
	tooWide := "package p\n\n\t\t" + strings.Repeat("x", maxColumns-2*tabWidth+1) + "\n"
	for name, src := range map[string]string{"fits.go": fits, "wide.go": tooWide, "notes.txt": tooWide} {
		if err := os.WriteFile(filepath.Join(root, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	long, err := longLines(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(long) != 1 || !strings.HasPrefix(long[0], "wide.go:3:") {
		t.Fatalf("long lines %v, want only wide.go:3", long)
	}
}

// longLines lists the lines of the .go files under root wider than maxColumns, as
// "path:line: N columns".
func longLines(root string) ([]string, error) {
	var long []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		rel, _ := filepath.Rel(root, path)
		scanner := bufio.NewScanner(f)
		scanner.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for n := 1; scanner.Scan(); n++ {
			line := scanner.Text()
			cols := utf8.RuneCountInString(line) + strings.Count(line, "\t")*(tabWidth-1)
			if cols > maxColumns {
				long = append(long, fmt.Sprintf("%s:%d: %d columns", rel, n, cols))
			}
		}
		return scanner.Err()
	})
	return long, err
}
