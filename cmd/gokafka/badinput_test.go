package main

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestBadInput: unknown topics and groups, malformed flags and arguments,
// unreachable brokers: one line on stderr, a status a script can test,
// never a stack trace.
func TestBadInput(t *testing.T) {
	name := topic(t, "1")
	missing := name + "-missing"
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"topics", "describe", missing}, exitNotFound, "unknown topic"},
		{[]string{"topics", "delete", missing}, exitNotFound, "unknown topic"},
		{[]string{"consume", missing, "-e"}, exitNotFound, "unknown topic"},
		{[]string{"produce", missing}, exitNotFound, "unknown topic"},
		{[]string{"offsets", missing}, exitNotFound, "unknown topic"},
		{[]string{"consume", name, "-p", "7"}, exitNotFound, "no partition 7"},
		{[]string{"groups", "lag", "no-such-group-x"}, exitNotFound, "unknown consumer group"},
		{[]string{"groups", "describe", "no-such-group-x"}, exitNotFound, "unknown consumer group"},
		{[]string{"topics", "create", "bad name!"}, exitUsage, "invalid topic name"},
		{[]string{"topics", "list", "--bogus"}, exitUsage, "unknown flag: --bogus"},
		{[]string{"topics", "create", name + "-x", "-p", "many"}, exitUsage, "invalid argument"},
		{[]string{"topics", "create"}, exitUsage, "requires at least 1 arg"},
		{[]string{"topics", "alter", name}, exitUsage, "nothing to alter"},
		{[]string{"topics", "list", "-o", "yaml"}, exitUsage, "want table or json"},
		{[]string{"consume", name, "--from", "yesterday"}, exitUsage, "--from"},
		{[]string{"consume", name, "-f", "%z"}, exitUsage, "unknown token"},
		{[]string{"produce", name, "--codec", "brotli"}, exitUsage, "--codec"},
		{[]string{"produce", name, "--acks", "2"}, exitUsage, "--acks"},
		{[]string{"groups", "reset", "g"}, exitUsage, "give one of"},
		{[]string{"groups", "reset", "g", "--to-earliest"}, exitUsage, "--all-topics"},
		{[]string{"groups", "reset", "g", "--to-datetime", "soon", "--all-topics"}, exitUsage, "--to-datetime"},
		{[]string{"cluster", "up", "-brokers", "0"}, exitUsage, "--brokers 0"},
		{[]string{"nosuchcommand"}, exitUsage, "unknown command"},
	} {
		gokafka(t, "", c.args...).failed(t, strings.Join(c.args, " "), c.code, c.want)
	}

	unreachable := map[string]string{"BROKERS": "127.0.0.1:1"}
	gokafkaEnv(t, unreachable, "", "topics", "list", "--timeout", "5s").failed(t, "unreachable brokers", exitUnreachable, "no broker reachable")
	gokafkaEnv(t, map[string]string{}, "", "groups", "list").failed(t, "no brokers", exitUsage, "no brokers")
	gokafkaEnv(t, map[string]string{"BROKERS": "not-an-address"}, "", "cluster").failed(t, "a bad address", exitUsage, "not host:port")
}

// TestHelp: every command has an example, and --help prints it and exits 0.
func TestHelp(t *testing.T) {
	a := &app{}
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Runnable() && strings.TrimSpace(c.Example) == "" {
			t.Errorf("%q has no example", c.CommandPath())
		}
		args := append(strings.Fields(c.CommandPath())[1:], "--help")
		r := gokafka(t, "", args...)
		if r.code != 0 || !strings.Contains(r.stdout, "Examples:") || !strings.Contains(r.stdout, "--bootstrap-server") {
			t.Errorf("%s: exit %d\n%s", strings.Join(args, " "), r.code, r.stdout)
		}
		for _, s := range c.Commands() {
			if s.Name() != "help" && s.Name() != "completion" {
				walk(s)
			}
		}
	}
	walk(a.rootCommand())
}
