package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The README's Layout section is a newcomer's map of the repository: it
// names every directory that holds Go code, and everything it names exists.
func TestReadmeLayoutIsCurrent(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, layout, ok := strings.Cut(string(readme), "\n## Layout\n")
	if !ok {
		t.Fatal("README.md has no Layout section")
	}
	layout, _, _ = strings.Cut(layout, "\n## ")
	_, block, _ := strings.Cut(layout, "```\n")
	block, _, _ = strings.Cut(block, "```")
	listed := map[string]bool{}
	for _, line := range strings.Split(block, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(line, " ") { // blank, or a continued description
			continue
		}
		listed[f[0]] = true
		if _, err := os.Stat(f[0]); err != nil {
			t.Errorf("README.md's Layout names %s, which does not exist", f[0])
		}
	}
	missing := map[string]bool{}
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata"):
			return filepath.SkipDir
		case d.IsDir() || !strings.HasSuffix(path, ".go"):
			return nil
		}
		name := filepath.ToSlash(filepath.Dir(path)) + "/"
		if name == "./" {
			name = filepath.Base(path)
		}
		if !listed[name] && !strings.HasSuffix(name, "_test.go") && !missing[name] {
			missing[name] = true
			t.Errorf("README.md's Layout does not name %s", name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
