package devserver

import (
	"os"
	"path/filepath"
	"testing"

	sqliteschema "go.temporal.io/server/schema/sqlite"
)

func TestVisibilityHasItsOwnFileExceptInDataDirsFromBeforeIt(t *testing.T) {
	dir := t.TempDir()
	stores, err := prepareStores(Config{DataDir: dir, Namespace: DefaultNamespace})
	if err != nil {
		t.Fatal(err)
	}
	if stores.main.DatabaseName != filepath.Join(dir, DBFileName) ||
		stores.visibility.DatabaseName != filepath.Join(dir, VisibilityDBFileName) {
		t.Fatalf(
			"a new data dir keeps visibility in its own file: main %s, visibility %s",
			stores.main.DatabaseName, stores.visibility.DatabaseName,
		)
	}
	for _, name := range []string{DBFileName, VisibilityDBFileName} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Fatalf("%s must be created with its schema: %v", name, err)
		}
	}
	// Started again, the same data dir keeps both files.
	again, err := prepareStores(Config{DataDir: dir, Namespace: DefaultNamespace})
	if err != nil || again.visibility.DatabaseName != stores.visibility.DatabaseName {
		t.Fatalf("restart: %+v, %v", again.visibility, err)
	}

	legacy := t.TempDir()
	if err := sqliteschema.SetupSchema(sqliteConfig(filepath.Join(legacy, DBFileName))); err != nil {
		t.Fatal(err)
	}
	old, err := prepareStores(Config{DataDir: legacy, Namespace: DefaultNamespace})
	if err != nil {
		t.Fatal(err)
	}
	if old.visibility != old.main {
		t.Fatalf("a data dir from before keeps its visibility records where they are: %s", old.visibility.DatabaseName)
	}
	if _, err := os.Stat(filepath.Join(legacy, VisibilityDBFileName)); !os.IsNotExist(err) {
		t.Fatalf("no visibility file may be made for a data dir from before: %v", err)
	}
}
