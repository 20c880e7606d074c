package tmplfile

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// LoadDir parses every *.yaml and *.yml file under dir, recursing into
// subdirectories but skipping hidden files and directories (names starting
// with "."), and files that are not task templates: YAML mappings none of
// whose top-level keys is a template key (such as Prometheus rules, whose
// only key is groups, kept next to the templates in examples/). Templates
// are returned sorted by file path.
//
// The problems of all files are returned together (errors.Join), each naming
// its file; the templates that did parse are returned alongside. Two files
// defining the same namespace, name and version are also an error. An error
// reading dir itself is returned as is.
func LoadDir(dir string, opts Options) ([]*Template, error) {
	var files []string
	var errs []error
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == dir {
				return err
			}
			errs = append(errs, &Error{File: path, Problem: "cannot read: " + err.Error()})
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if path != dir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".yaml", ".yml":
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load templates from %s: %w", dir, err)
	}
	sort.Strings(files)

	var templates []*Template
	defined := make(map[string]string) // namespace/name@version → file
	for _, file := range files {
		data, err := ReadFile(file)
		if err != nil {
			var fe *Error
			if !errors.As(err, &fe) {
				err = &Error{File: file, Problem: "cannot read: " + err.Error()}
			}
			errs = append(errs, err)
			continue
		}
		if !templateLike(data) {
			continue
		}
		t, err := Parse(file, data, opts)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		key := t.NamespaceName + "/" + t.Name + "@" + t.Version
		if first, dup := defined[key]; dup {
			errs = append(errs, &Error{
				File: file, Field: "name",
				Problem: fmt.Sprintf("template %q (namespace %q, version %s) is also defined in %s", t.Name, t.NamespaceName, t.Version, first),
				Fix:     "change the name, namespace_name or version of one of them",
			})
			continue
		}
		defined[key] = file
		templates = append(templates, t)
	}
	return templates, errors.Join(errs...)
}

// templateLike reports whether data may be a task template: anything but a
// YAML mapping that has none of the template keys at its top level. What
// does not parse, or is not a mapping, is template-like, so that Parse
// reports its problem.
func templateLike(data []byte) bool {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 {
		return true
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode || len(root.Content) == 0 {
		return true
	}
	for i := 0; i < len(root.Content); i += 2 {
		if slices.Contains(templateKeys, root.Content[i].Value) {
			return true
		}
	}
	return false
}
