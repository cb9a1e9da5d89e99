package migrations

import (
	"fmt"
	"io/fs"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var fileName = regexp.MustCompile(`^(\d{4})_[a-z0-9_]+\.sql$`)

// versions reads one dialect folder and returns its file names by number.
func versions(t *testing.T, dialect string) map[int]string {
	t.Helper()
	entries, err := fs.ReadDir(FS, dialect)
	if err != nil {
		t.Fatalf("read %s: %v", dialect, err)
	}
	out := map[int]string{}
	for _, e := range entries {
		m := fileName.FindStringSubmatch(e.Name())
		if m == nil {
			t.Errorf("%s/%s: name is not NNNN_name.sql", dialect, e.Name())
			continue
		}
		n, _ := strconv.Atoi(m[1])
		if prev, dup := out[n]; dup {
			t.Errorf("%s: %s and %s share number %d", dialect, prev, e.Name(), n)
		}
		out[n] = e.Name()
	}
	return out
}

func TestMigrations(t *testing.T) {
	pg := versions(t, "postgres")
	lite := versions(t, "sqlite")

	t.Run("both dialects have the same numbered files", func(t *testing.T) {
		if len(pg) != len(lite) {
			t.Fatalf("postgres has %d migrations, sqlite %d", len(pg), len(lite))
		}
		for n, name := range pg {
			if lite[n] != name {
				t.Errorf("migration %04d: postgres %q, sqlite %q", n, name, lite[n])
			}
		}
	})

	t.Run("numbers are contiguous from 0001", func(t *testing.T) {
		for _, set := range []map[int]string{pg, lite} {
			if len(set) == 0 {
				t.Fatal("no migrations")
			}
			for n := 1; n <= len(set); n++ {
				if _, ok := set[n]; !ok {
					t.Errorf("missing migration %04d", n)
				}
			}
		}
	})

	t.Run("every file has an Up and a Down section", func(t *testing.T) {
		for _, dialect := range []string{"postgres", "sqlite"} {
			for _, name := range versions(t, dialect) {
				path := fmt.Sprintf("%s/%s", dialect, name)
				b, err := fs.ReadFile(FS, path)
				if err != nil {
					t.Fatal(err)
				}
				text := string(b)
				up := strings.Index(text, "-- +goose Up")
				down := strings.Index(text, "-- +goose Down")
				if up < 0 || down < 0 || down < up {
					t.Errorf("%s: want '-- +goose Up' followed by '-- +goose Down'", path)
				}
			}
		}
	})
}
