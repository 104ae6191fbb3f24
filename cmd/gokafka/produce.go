package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokafka/kafka"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func (a *app) produceCommand() *cobra.Command {
	var (
		keySep, codec, acks string
		headers             []string
		partition           int32
		wait                bool
		maxLine             int
	)
	cmd := &cobra.Command{
		Use:   "produce TOPIC [FILE]",
		Short: "Produce each line of standard input (or FILE) as a message",
		Long: `Produce each line of standard input, or of FILE, as one message (the line
without its newline). With -K SEP, a line is KEY SEP VALUE (split at the first
SEP; a line without SEP has no key). -H adds headers to every message.
Messages go asynchronously in batches unless --sync; a progress bar with the
rate shows on a terminal, nothing on a pipe.`,
		Example: `  seq 1000 | gokafka produce events
  gokafka produce events users.txt -K : -H source=import --codec zstd
  printf 'k1\tv1\n' | gokafka produce events -K '\t' -p 0 --acks 1 --sync`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg := kafka.ProducerConfig{Sync: wait}
			switch strings.ToLower(codec) {
			case "none", "":
			case "gzip":
				cfg.Compression = kafka.CompressionGzip
			case "snappy":
				cfg.Compression = kafka.CompressionSnappy
			case "lz4":
				cfg.Compression = kafka.CompressionLZ4
			case "zstd":
				cfg.Compression = kafka.CompressionZstd
			default:
				return usagef("--codec %q: want none, gzip, snappy, lz4 or zstd", codec)
			}
			switch strings.ToLower(acks) {
			case "all", "-1":
			case "1", "leader":
				cfg.Acks = kafka.AcksLeader
			case "0", "none":
				cfg.Acks = kafka.AcksNone
			default:
				return usagef("--acks %q: want all, 1 or 0", acks)
			}
			hs, err := kv("-H", headers)
			if err != nil {
				return err
			}
			var hdrs []kafka.Header
			for _, h := range headers { // in the order given
				k, _, _ := strings.Cut(h, "=")
				hdrs = append(hdrs, kafka.Header{Key: k, Value: []byte(hs[k])})
			}
			sep := []byte(unescape(keySep))
			if keySep != "" && len(sep) == 0 {
				return usagef("-K %q: empty separator", keySep)
			}
			in := a.stdin
			if len(args) == 2 && args[1] != "-" {
				f, err := os.Open(args[1])
				if err != nil {
					return usagef("%v", err)
				}
				defer f.Close()
				in = f
			}
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			ctx := cmd.Context()
			topic, err := c.Topic(ctx, args[0]) // an unknown topic fails here, once
			if err != nil {
				return err
			}
			if partition >= 0 && int(partition) >= len(topic.Partitions()) {
				return fmt.Errorf("%w: %s has %d partitions, no partition %d", kafka.ErrUnknownPartition, args[0], len(topic.Partitions()), partition)
			}
			p, err := topic.NewProducer(cfg)
			if err != nil {
				return err
			}
			bar := a.progress()
			var sent, failed atomic.Int64
			var firstErr error
			var errOnce sync.Once
			done := func(r kafka.DeliveryReport) {
				if r.Err != nil {
					failed.Add(1)
					errOnce.Do(func() { firstErr = r.Err })
					return
				}
				sent.Add(1)
				if bar != nil {
					bar.Add(1)
				}
			}
			began := time.Now()
			lines := bufio.NewReader(in)
			var readErr error
			for ctx.Err() == nil {
				line, err := lines.ReadBytes('\n')
				if len(line) > maxLine {
					readErr = fmt.Errorf("a line of %d bytes is longer than --max-line-bytes %d", len(line), maxLine)
					break
				}
				if len(line) > 0 {
					m := &kafka.Message{Value: bytes.TrimSuffix(line, []byte("\n")), Headers: hdrs}
					if len(sep) > 0 {
						if k, v, ok := bytes.Cut(m.Value, sep); ok {
							m.Key, m.Value = k, v
						}
					}
					if partition >= 0 {
						m.Partition, m.PartitionSet = partition, true
					}
					if wait {
						perr := p.ProduceMessage(ctx, m)
						done(kafka.DeliveryReport{Message: m, Err: perr})
					} else if perr := p.ProduceAsync(ctx, m, done); perr != nil {
						done(kafka.DeliveryReport{Message: m, Err: perr})
					}
				}
				if err == io.EOF {
					break
				}
				if err != nil {
					readErr = err
					break
				}
			}
			cctx, cancel := context.WithTimeout(context.Background(), a.timeout)
			defer cancel()
			closeErr := p.Close(cctx)
			if bar != nil {
				bar.Finish()
				fmt.Fprintln(a.stderr)
			}
			took := time.Since(began)
			summary := struct {
				Produced int64   `json:"produced"`
				Failed   int64   `json:"failed"`
				Seconds  float64 `json:"seconds"`
			}{sent.Load(), failed.Load(), took.Seconds()}
			if a.output == "json" {
				if err := a.show(summary, nil); err != nil {
					return err
				}
			} else if bar != nil {
				fmt.Fprintf(a.stderr, "produced %d messages in %v (%.0f msg/s)\n", summary.Produced, took.Round(time.Millisecond), float64(summary.Produced)/max(took.Seconds(), 1e-3))
			}
			switch {
			case firstErr != nil:
				return fmt.Errorf("%d of %d messages failed; first: %w", summary.Failed, summary.Failed+summary.Produced, firstErr)
			case readErr != nil:
				return fmt.Errorf("reading the input: %w", readErr)
			case closeErr != nil:
				return closeErr
			}
			return context.Cause(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&keySep, "key-separator", "K", "", `split each line into key and value at the first SEP (\t for a tab)`)
	f.StringArrayVarP(&headers, "header", "H", nil, "a header of every message, key=value (repeatable)")
	f.StringVar(&codec, "codec", "none", "compression: none, gzip, snappy, lz4, zstd")
	f.Int32VarP(&partition, "partition", "p", -1, "produce to this partition (default: by key, as the Java client)")
	f.StringVar(&acks, "acks", "all", "acknowledgements: all, 1 (the leader) or 0 (none)")
	f.BoolVar(&wait, "sync", false, "wait for each message's acknowledgement before the next")
	f.IntVar(&maxLine, "max-line-bytes", 16<<20, "the longest line accepted")
	return cmd
}

// progress is a progress bar with the rate on stderr when it is a
// terminal; nil otherwise (a pipe, a file, a test).
func (a *app) progress() *progressbar.ProgressBar {
	f, ok := a.stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(f),
		progressbar.OptionSetDescription("producing"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("msg"),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSpinnerType(14),
	)
}

// unescape reads \t, \n, \r and \\ in a separator given on the command
// line.
func unescape(s string) string {
	return strings.NewReplacer(`\t`, "\t", `\n`, "\n", `\r`, "\r", `\\`, `\`).Replace(s)
}
