// Command gokafka administers a Kafka cluster and produces and consumes
// messages from the shell, with gokafka's client: topics, consumer groups
// (lag, offset resets), offsets, brokers, and a throwaway local cluster.
//
//	gokafka topics list
//	gokafka topics create events -p 6 -r 3 --config retention.ms=86400000
//	gokafka groups lag billing
//	gokafka groups reset billing --to-datetime 2026-11-25T10:00:00Z --all-topics
//	seq 100 | gokafka produce events
//	gokafka consume events --from beginning -e -f '%p %o %k %s\n'
//	gokafka cluster up --brokers 3
//
// Every command that talks to Kafka takes the same connection flags and
// environment: -b/--bootstrap-server or BROKERS, TLS (--tls-ca, ...; TLS_CA,
// ...) and SASL (--sasl-mechanism, ...; SASL_MECHANISM, SASL_USERNAME,
// SASL_PASSWORD). Output is a table for people, or JSON with -o json.
//
// Exit status: 0 done; 1 failed (Kafka refused, or some items failed);
// 2 bad usage (flags, arguments); 3 not found (unknown topic or group);
// 4 brokers unreachable or too slow; 5 authentication or authorization
// refused. Errors are one line on standard error.
//
// It is a module of its own (github.com/gokafka/kafka/cmd/gokafka), so that
// the libraries it uses (cobra, go-pretty, progressbar) never become
// dependencies of programs that use the gokafka library.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run is the whole command, for main and for the tests: args without the
// program name, the standard streams, and the environment.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	root := a.rootCommand()
	root.SetArgs(normalizeArgs(root, args))
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	return a.exit(err)
}
