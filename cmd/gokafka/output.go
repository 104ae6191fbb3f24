package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/jedib0t/go-pretty/v6/table"
)

// show prints v as JSON with -o json, or else calls human, which prints
// tables.
func (a *app) show(v any, human func()) error {
	if a.output == "json" {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	human()
	return nil
}

// newTable is a borderless table, columns two spaces apart, as Kafka's own
// tools print them, for render.
func (a *app) newTable(header ...any) table.Writer {
	t := table.NewWriter()
	style := table.StyleDefault
	style.Box = table.BoxStyle{MiddleVertical: "  "}
	style.Options = table.Options{SeparateColumns: true}
	style.Format.Header = 0 // as written
	t.SetStyle(style)
	t.AppendHeader(table.Row(header))
	return t
}

// render prints a table, without the padding of its last column.
func (a *app) render(t table.Writer) {
	for _, line := range strings.Split(t.Render(), "\n") {
		fmt.Fprintln(a.stdout, strings.TrimRight(line, " "))
	}
}

// dash prints -1 (unknown, none) as "-", as Kafka's tools do.
func dash(n int64) string {
	if n < 0 {
		return "-"
	}
	return strconv.FormatInt(n, 10)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func joinInts[T ~int32 | ~int64](v []T) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.FormatInt(int64(n), 10)
	}
	return strings.Join(s, ",")
}

// errString is an item's error for a table or JSON: empty when none.
func errString(err error) string {
	if err == nil {
		return ""
	}
	return oneLine(err.Error())
}

// kv parses "key=value" flag values.
func kv(flag string, pairs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, usagef("%s %q: want key=value", flag, p)
		}
		out[k] = v
	}
	return out, nil
}

// topicPartitions parses "topic" or "topic:0,1,2" arguments: a topic with
// no partitions listed maps to nil (all of them).
func topicPartitions(flag string, specs []string) (map[string][]int32, error) {
	out := map[string][]int32{}
	for _, s := range specs {
		topic, list, has := strings.Cut(s, ":")
		if topic == "" {
			return nil, usagef("%s %q: want topic or topic:0,1,2", flag, s)
		}
		if !has {
			out[topic] = nil
			continue
		}
		for _, p := range strings.Split(list, ",") {
			n, err := strconv.ParseInt(strings.TrimSpace(p), 10, 32)
			if err != nil || n < 0 {
				return nil, usagef("%s %q: %q is not a partition number", flag, s, p)
			}
			out[topic] = append(out[topic], int32(n))
		}
	}
	return out, nil
}
