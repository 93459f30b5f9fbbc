package config

import (
	"fmt"
	"reflect"
	"strings"
)

// Variable documents one environment variable.
type Variable struct {
	Name    string
	Default string
	Help    string
}

// Variables lists every variable the watchdog reads, in declaration order.
func Variables() []Variable {
	t := reflect.TypeOf(rawConfig{})
	vars := make([]Variable, 0, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		def := f.Tag.Get("envDefault")
		if d := f.Tag.Get("default"); d != "" {
			def = d
		}
		vars = append(vars, Variable{Name: f.Tag.Get("env"), Default: def, Help: f.Tag.Get("help")})
	}
	return vars
}

// MarkdownTable renders Variables as the README's configuration table (the front page).
func MarkdownTable() string {
	var b strings.Builder
	b.WriteString("| variable | default | meaning |\n|---|---|---|\n")
	for _, v := range Variables() {
		def := "\"\""
		if v.Default != "" {
			def = "`" + v.Default + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", v.Name, def, v.Help)
	}
	return b.String()
}

// Usage renders Variables as plain text for -h.
func Usage() string {
	var b strings.Builder
	width := 0
	for _, v := range Variables() {
		width = max(width, len(v.Name))
	}
	for _, v := range Variables() {
		def := v.Default
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(&b, "  %-*s  default %s\n  %-*s  %s\n", width, v.Name, def, width, "", v.Help)
	}
	return b.String()
}
