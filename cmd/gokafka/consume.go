package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gokafka/kafka"
	"github.com/spf13/cobra"
)

// consumer is what consume needs of a simple or a balanced consumer.
type consumer interface {
	Consume(ctx context.Context) (*kafka.Message, error)
	HeldOffsets() map[kafka.TopicPartition]int64
	Close(ctx context.Context) error
}

func (a *app) consumeCommand() *cobra.Command {
	var (
		from, group, format string
		count               int64
		partitions          []int32
		exitAtEnd           bool
	)
	cmd := &cobra.Command{
		Use:   "consume TOPIC",
		Short: "Print a topic's messages, with a format string or as JSON lines",
		Long: `Print a topic's messages, one per line: the value, or what --format says
(kcat's tokens: %s value, %k key, %t topic, %p partition, %o offset, %T
timestamp in ms, %h headers as k=v,k=v, %S and %K the value's and key's sizes,
\n \t), or with -o json one JSON object per message. --from chooses where to
start: beginning, end, an offset, or a time (RFC 3339 or Unix ms). With -g
the command joins the group, starts from its committed offsets (else --from
beginning or end) and commits what it printed. -e stops at the end of the
partitions, -n after N messages; else Ctrl-C stops.`,
		Example: `  gokafka consume events --from beginning -e
  gokafka consume events -f '%p:%o %k=%s %h\n' -n 10
  gokafka consume events --from 2026-11-25T10:00:00Z -o json | jq .value
  gokafka consume events -g billing --from beginning -e`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			reset := kafka.ResetLatest
			var startAt int64 = -1
			var startTime time.Time
			switch from {
			case "beginning", "earliest":
				reset = kafka.ResetEarliest
			case "end", "latest", "":
			default:
				if n, err := strconv.ParseInt(from, 10, 64); err == nil && n >= 0 && n < 1e12 {
					startAt = n // an offset; larger numbers are Unix ms
				} else if t, err := parseTime(from); err == nil {
					startTime = t
				} else {
					return usagef("--from %q: want beginning, end, an offset or a time", from)
				}
			}
			if group != "" && (startAt >= 0 || !startTime.IsZero()) {
				return usagef("--from an offset or a time does not go with -g: reset the group's offsets instead (gokafka groups reset)")
			}
			if count < 0 {
				return usagef("-n %d: want a count >= 0", count)
			}
			tmpl, err := parseFormat(format)
			if err != nil {
				return err
			}
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			ctx := cmd.Context()
			topic, err := c.Topic(ctx, name)
			if err != nil {
				return err
			}
			all := topic.Partitions()
			tps := make([]kafka.TopicPartition, 0, len(all))
			for _, p := range all {
				if len(partitions) == 0 || containsInt32(partitions, p.ID) {
					tps = append(tps, kafka.TopicPartition{Topic: name, Partition: p.ID})
				}
			}
			for _, p := range partitions {
				if int(p) >= len(all) || p < 0 {
					return fmt.Errorf("%w: %s has %d partitions, no partition %d", kafka.ErrUnknownPartition, name, len(all), p)
				}
			}
			opts := kafka.ConsumerOptions{AutoOffsetReset: reset}
			if exitAtEnd {
				opts.ConsumerTimeout = 300 * time.Millisecond // to look at the end again
			}
			var cons consumer
			if group != "" {
				if len(partitions) > 0 {
					return usagef("-p does not go with -g: the group assigns the partitions")
				}
				opts.AutoCommit = true
				bc, err := c.NewBalancedConsumer(ctx, kafka.BalancedConsumerConfig{Group: group, Topics: []string{name}, ConsumerOptions: opts})
				if err != nil {
					return err
				}
				cons = bc
			} else {
				sc, err := c.NewSimpleConsumer(ctx, kafka.ConsumerConfig{Topics: map[string][]int32{name: partitionIDs(tps)}, ConsumerOptions: opts})
				if err != nil {
					return err
				}
				cons = sc
				switch {
				case startAt >= 0:
					target := map[kafka.TopicPartition]int64{}
					for _, tp := range tps {
						target[tp] = startAt
					}
					err = sc.ResetOffsets(ctx, target)
				case !startTime.IsZero():
					err = sc.ResetOffsetsToTime(ctx, startTime)
				}
				if err != nil {
					cons.Close(context.Background())
					return err
				}
			}
			var end map[int32]int64
			if exitAtEnd {
				if end, err = topic.LatestOffsets(ctx); err != nil {
					cons.Close(context.Background())
					return err
				}
			}
			out := bufio.NewWriter(a.stdout)
			err = a.consumeLoop(ctx, cons, out, tmpl, count, tps, end)
			ferr := out.Flush()
			cctx, cancel := context.WithTimeout(context.Background(), a.timeout)
			defer cancel()
			cerr := cons.Close(cctx) // commits, with -g
			if errors.Is(err, context.Canceled) && ctx.Err() != nil {
				err = nil // Ctrl-C: the usual way to stop
			}
			return errors.Join(err, ferr, cerr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "where to start: beginning, end (default), an offset, or a time (RFC 3339 or Unix ms)")
	f.StringVarP(&group, "group", "g", "", "consume as a member of this group, committing what was printed")
	f.StringVarP(&format, "format", "f", `%s\n`, "how to print each message (see above)")
	f.Int64VarP(&count, "count", "n", 0, "stop after this many messages (0: no limit)")
	f.Int32SliceVarP(&partitions, "partition", "p", nil, "only these partitions (default: all)")
	f.BoolVarP(&exitAtEnd, "exit", "e", false, "exit once the end of every partition is reached")
	return cmd
}

// consumeLoop prints messages until count, the end (when end is not nil)
// or ctx.
func (a *app) consumeLoop(ctx context.Context, cons consumer, out *bufio.Writer, tmpl []formatPart, count int64, tps []kafka.TopicPartition, end map[int32]int64) error {
	var n int64
	atEnd := func() bool {
		if end == nil {
			return false
		}
		held := cons.HeldOffsets()
		for _, tp := range tps {
			pos, ok := held[tp]
			if !ok || pos < end[tp.Partition] {
				if !ok && end[tp.Partition] == 0 {
					continue // empty partition: nothing to wait for
				}
				return false
			}
		}
		return true
	}
	for count == 0 || n < count {
		if atEnd() {
			return nil
		}
		m, err := cons.Consume(ctx)
		if errors.Is(err, kafka.ErrConsumerTimeout) {
			continue // with -e: look at the end again
		}
		if err != nil {
			return err
		}
		if a.output == "json" {
			if err := writeJSON(out, m); err != nil {
				return err
			}
		} else {
			writeFormatted(out, tmpl, m)
		}
		n++
		if out.Buffered() > 32<<10 {
			if err := out.Flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

func containsInt32(v []int32, x int32) bool {
	for _, y := range v {
		if y == x {
			return true
		}
	}
	return false
}

func partitionIDs(tps []kafka.TopicPartition) []int32 {
	out := make([]int32, len(tps))
	for i, tp := range tps {
		out[i] = tp.Partition
	}
	return out
}

// jsonMessage is a message as -o json prints it. Keys and values that are
// valid UTF-8 are strings; others are base64 in KeyBase64 / ValueBase64.
type jsonMessage struct {
	Topic       string       `json:"topic"`
	Partition   int32        `json:"partition"`
	Offset      int64        `json:"offset"`
	Timestamp   int64        `json:"timestamp"` // Unix ms
	Key         *string      `json:"key"`
	KeyBase64   string       `json:"key_base64,omitempty"`
	Value       *string      `json:"value"`
	ValueBase64 string       `json:"value_base64,omitempty"`
	Headers     []jsonHeader `json:"headers"`
}

type jsonHeader struct {
	Key         string  `json:"key"`
	Value       *string `json:"value"`
	ValueBase64 string  `json:"value_base64,omitempty"`
}

// bytesField sets a string or its base64 form; nil stays null.
func bytesField(b []byte, s **string, b64 *string) {
	switch {
	case b == nil:
	case utf8.Valid(b):
		v := string(b)
		*s = &v
	default:
		*b64 = base64.StdEncoding.EncodeToString(b)
	}
}

func writeJSON(out *bufio.Writer, m *kafka.Message) error {
	j := jsonMessage{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Timestamp: m.Timestamp.UnixMilli(), Headers: []jsonHeader{}}
	bytesField(m.Key, &j.Key, &j.KeyBase64)
	bytesField(m.Value, &j.Value, &j.ValueBase64)
	for _, h := range m.Headers {
		jh := jsonHeader{Key: h.Key}
		bytesField(h.Value, &jh.Value, &jh.ValueBase64)
		j.Headers = append(j.Headers, jh)
	}
	b, err := json.Marshal(j)
	if err != nil {
		return err
	}
	out.Write(b)
	return out.WriteByte('\n')
}

// formatPart is a literal, or a token of the format (its letter).
type formatPart struct {
	lit   string
	token byte
}

// parseFormat reads kcat's format tokens and escapes.
func parseFormat(f string) ([]formatPart, error) {
	var parts []formatPart
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			parts = append(parts, formatPart{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(f); i++ {
		switch ch := f[i]; {
		case ch == '%' && i+1 < len(f):
			i++
			switch f[i] {
			case '%':
				lit.WriteByte('%')
			case 's', 'k', 't', 'p', 'o', 'T', 'h', 'S', 'K':
				flush()
				parts = append(parts, formatPart{token: f[i]})
			default:
				return nil, usagef("--format: unknown token %%%c (want %%s %%k %%t %%p %%o %%T %%h %%S %%K %%%%)", f[i])
			}
		case ch == '\\' && i+1 < len(f):
			i++
			switch f[i] {
			case 'n':
				lit.WriteByte('\n')
			case 't':
				lit.WriteByte('\t')
			case 'r':
				lit.WriteByte('\r')
			case '\\':
				lit.WriteByte('\\')
			default:
				lit.WriteByte('\\')
				lit.WriteByte(f[i])
			}
		default:
			lit.WriteByte(ch)
		}
	}
	flush()
	return parts, nil
}

func writeFormatted(out *bufio.Writer, tmpl []formatPart, m *kafka.Message) {
	for _, p := range tmpl {
		switch p.token {
		case 0:
			out.WriteString(p.lit)
		case 's':
			out.Write(m.Value)
		case 'k':
			out.Write(m.Key)
		case 't':
			out.WriteString(m.Topic)
		case 'p':
			out.WriteString(strconv.Itoa(int(m.Partition)))
		case 'o':
			out.WriteString(strconv.FormatInt(m.Offset, 10))
		case 'T':
			out.WriteString(strconv.FormatInt(m.Timestamp.UnixMilli(), 10))
		case 'S':
			out.WriteString(strconv.Itoa(len(m.Value)))
		case 'K':
			out.WriteString(strconv.Itoa(len(m.Key)))
		case 'h':
			for i, h := range m.Headers {
				if i > 0 {
					out.WriteByte(',')
				}
				out.WriteString(h.Key)
				out.WriteByte('=')
				out.Write(h.Value)
			}
		}
	}
}
