package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/gokafka/kafka"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// app is one run of the command: its streams, environment and the flags
// every command shares.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string

	brokers  string
	output   string
	timeout  time.Duration
	clientID string

	tlsOn                       bool
	tlsCA, tlsCert, tlsKey      string
	tlsInsecure                 bool
	saslMech, saslUser, saslPwd string
}

// Exit statuses, for scripts.
const (
	exitOK           = 0
	exitFailed       = 1
	exitUsage        = 2
	exitNotFound     = 3
	exitUnreachable  = 4
	exitUnauthorized = 5
)

// usageError is a mistake in the command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

const rootLong = `gokafka administers a Kafka cluster and produces and consumes messages.

Connection (every command): -b/--bootstrap-server or $BROKERS; TLS with
--tls (or $TLS=1), --tls-ca/$TLS_CA, --tls-cert/$TLS_CERT, --tls-key/$TLS_KEY,
--tls-insecure; SASL with --sasl-mechanism/$SASL_MECHANISM (PLAIN,
SCRAM-SHA-256, SCRAM-SHA-512), --sasl-username/$SASL_USERNAME and
$SASL_PASSWORD (or --sasl-password, which other users can see in ps).

Output: tables for people; -o json for scripts.

Exit status: 0 done; 1 failed (Kafka refused, or some items failed);
2 bad usage; 3 unknown topic or group; 4 brokers unreachable or too slow;
5 authentication or authorization refused.`

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "gokafka",
		Short:         "Kafka from the shell: topics, groups, offsets, produce, consume",
		Long:          rootLong,
		Example:       "  BROKERS=127.0.0.1:9092 gokafka topics list\n  gokafka -b 127.0.0.1:9092 groups lag billing -o json",
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	f := root.PersistentFlags()
	f.StringVarP(&a.brokers, "bootstrap-server", "b", "", "bootstrap brokers, host:port[,host:port...] (default $BROKERS)")
	f.StringVarP(&a.output, "output", "o", "table", "output format: table or json")
	f.DurationVar(&a.timeout, "timeout", 30*time.Second, "how long a command may take to talk to the cluster")
	f.StringVar(&a.clientID, "client-id", "gokafka-cli", "client id sent to the brokers")
	f.BoolVar(&a.tlsOn, "tls", false, "connect over TLS (default $TLS=1; implied by the other --tls flags)")
	f.StringVar(&a.tlsCA, "tls-ca", "", "PEM file of the CAs that sign the brokers' certificates (default $TLS_CA; none: the system's)")
	f.StringVar(&a.tlsCert, "tls-cert", "", "PEM file of a client certificate (default $TLS_CERT)")
	f.StringVar(&a.tlsKey, "tls-key", "", "PEM file of the client certificate's key (default $TLS_KEY)")
	f.BoolVar(&a.tlsInsecure, "tls-insecure", false, "accept any broker certificate (tests only)")
	f.StringVar(&a.saslMech, "sasl-mechanism", "", "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (default $SASL_MECHANISM)")
	f.StringVar(&a.saslUser, "sasl-username", "", "SASL user (default $SASL_USERNAME)")
	f.StringVar(&a.saslPwd, "sasl-password", "", "SASL password (default $SASL_PASSWORD, which ps does not show)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err.Error()} })
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if a.output != "table" && a.output != "json" {
			return usagef("-o %q: want table or json", a.output)
		}
		return nil
	}
	root.AddCommand(a.topicsCommand(), a.groupsCommand(), a.offsetsCommand(), a.clusterCommand(), a.produceCommand(), a.consumeCommand())
	// Every mistake in the command line is a usage error (exit 2).
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		c.SetFlagErrorFunc(root.FlagErrorFunc())
		if args := c.Args; args != nil {
			c.Args = func(cmd *cobra.Command, a []string) error {
				if err := args(cmd, a); err != nil {
					return &usageError{err.Error()}
				}
				return nil
			}
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	return root
}

// env is the flag's value, or the environment's when the flag is unset.
func (a *app) env(flag, name string) string {
	if flag != "" {
		return flag
	}
	return a.getenv(name)
}

// connect opens a client with the shared connection flags.
func (a *app) connect(ctx context.Context) (*kafka.Client, error) {
	brokers := a.env(a.brokers, "BROKERS")
	if strings.TrimSpace(brokers) == "" {
		return nil, usagef("no brokers: give -b host:port or set BROKERS")
	}
	opts := []kafka.ClientOption{kafka.WithClientID(a.clientID), kafka.WithDialTimeout(min(a.timeout, 10*time.Second))}
	ca, cert, key := a.env(a.tlsCA, "TLS_CA"), a.env(a.tlsCert, "TLS_CERT"), a.env(a.tlsKey, "TLS_KEY")
	if a.tlsOn || a.getenv("TLS") == "1" || a.getenv("TLS") == "true" || ca != "" || cert != "" || a.tlsInsecure {
		var t kafka.TLSConfig
		var err error
		read := func(path, what string) []byte {
			if path == "" || err != nil {
				return nil
			}
			var b []byte
			if b, err = os.ReadFile(path); err != nil {
				err = usagef("%s: %v", what, err)
			}
			return b
		}
		t.CAPEM, t.CertPEM, t.KeyPEM = read(ca, "--tls-ca"), read(cert, "--tls-cert"), read(key, "--tls-key")
		if err != nil {
			return nil, err
		}
		t.InsecureSkipVerify = a.tlsInsecure
		opts = append(opts, kafka.WithTLSConfig(t))
	}
	if mech := a.env(a.saslMech, "SASL_MECHANISM"); mech != "" {
		opts = append(opts, kafka.WithSASL(kafka.SASLConfig{
			Mechanism: kafka.SASLMechanism(strings.ToUpper(mech)),
			Username:  a.env(a.saslUser, "SASL_USERNAME"),
			Password:  a.env(a.saslPwd, "SASL_PASSWORD"),
		}))
	}
	cctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	return kafka.NewClient(cctx, brokers, opts...)
}

// withClient runs f with a connected client and a context bounded by
// --timeout.
func (a *app) withClient(cmd *cobra.Command, f func(ctx context.Context, c *kafka.Client) error) error {
	c, err := a.connect(cmd.Context())
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(cmd.Context(), a.timeout)
	defer cancel()
	return f(ctx, c)
}

// exit prints err as one line on stderr and returns the exit status.
func (a *app) exit(err error) int {
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	msg := err.Error()
	if code == exitUsage && !strings.Contains(msg, "--help") {
		msg += " (see --help)"
	}
	fmt.Fprintln(a.stderr, "gokafka: "+strings.TrimPrefix(oneLine(msg), "kafka: "))
	return code
}

// oneLine joins the lines of a message (errors.Join puts each item on a
// line of its own).
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

// exitCode classifies an error for scripts.
func exitCode(err error) int {
	var ue *usageError
	switch {
	case errors.As(err, &ue), errors.Is(err, kafka.ErrInvalidConfig), errors.Is(err, kafka.ErrInvalidTopic),
		strings.HasPrefix(err.Error(), "unknown command "): // cobra's, for a command it does not know
		return exitUsage
	case errors.Is(err, kafka.ErrAuthentication), kafka.IsAuthorization(err):
		return exitUnauthorized
	case errors.Is(err, kafka.ErrUnknownTopic), errors.Is(err, kafka.ErrUnknownGroup), errors.Is(err, kafka.ErrUnknownPartition):
		return exitNotFound
	case errors.Is(err, kafka.ErrNoBrokers), errors.Is(err, kafka.ErrConnection), errors.Is(err, context.DeadlineExceeded), errors.Is(err, kafka.ErrRequestTimeout):
		return exitUnreachable
	}
	return exitFailed
}

// normalizeArgs accepts Go-style single-dash long flags (-brokers 3, as
// kafka-instance and the flag package take them) by doubling the dash of
// any argument that names a long flag of the command tree.
func normalizeArgs(root *cobra.Command, args []string) []string {
	long := map[string]bool{}
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		add := func(f *pflag.Flag) { long[f.Name] = true }
		c.LocalFlags().VisitAll(add)
		c.PersistentFlags().VisitAll(add)
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	out := make([]string, len(args))
	for i, arg := range args {
		out[i] = arg
		if arg == "--" {
			copy(out[i:], args[i:])
			break
		}
		if len(arg) > 2 && arg[0] == '-' && arg[1] != '-' {
			name, _, _ := strings.Cut(arg[1:], "=")
			if len(name) > 1 && long[name] {
				out[i] = "-" + arg
			}
		}
	}
	return out
}
