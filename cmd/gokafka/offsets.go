package main

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/gokafka/kafka"
	"github.com/spf13/cobra"
)

// partitionOffsets is one row of gokafka offsets.
type partitionOffsets struct {
	Topic     string
	Partition int32
	Earliest  int64
	Latest    int64
	AtTime    *int64 `json:",omitempty"` // with --time: the first offset at or after it
	Error     string `json:",omitempty"`
}

func parseInt(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) }

func (a *app) offsetsCommand() *cobra.Command {
	var at string
	cmd := &cobra.Command{
		Use:   "offsets TOPIC...",
		Short: "Show the earliest and latest offsets of topics' partitions, and the offset for a time",
		Long: `Show each partition's earliest offset (the oldest message kept) and latest
offset (where the next message goes), and with --time the offset of the first
message at or after that time (the latest offset if none is that recent).`,
		Example: "  gokafka offsets events\n  gokafka offsets events audit --time 2026-11-25T10:00:00Z -o json",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, names []string) error {
			var ts time.Time
			if cmd.Flags().Changed("time") {
				var err error
				if ts, err = parseTime(at); err != nil {
					return usagef("--time: %v", err)
				}
			}
			return a.withClient(cmd, func(ctx context.Context, c *kafka.Client) error {
				var rows []partitionOffsets
				var errs []error
				for _, name := range names {
					r, err := topicOffsets(ctx, c, name, ts)
					if err != nil {
						rows = append(rows, partitionOffsets{Topic: name, Partition: -1, Earliest: -1, Latest: -1, Error: errString(err)})
						errs = append(errs, err)
						continue
					}
					rows = append(rows, r...)
				}
				if err := a.show(rows, func() {
					header := []any{"TOPIC", "PARTITION", "EARLIEST", "LATEST"}
					if !ts.IsZero() {
						header = append(header, "AT-TIME")
					}
					t := a.newTable(append(header, "ERROR")...)
					for _, r := range rows {
						row := []any{r.Topic, dash(int64(r.Partition)), dash(r.Earliest), dash(r.Latest)}
						if !ts.IsZero() {
							v := int64(-1)
							if r.AtTime != nil {
								v = *r.AtTime
							}
							row = append(row, dash(v))
						}
						t.AppendRow(append(row, r.Error))
					}
					a.render(t)
				}); err != nil {
					return err
				}
				return errors.Join(errs...)
			})
		},
	}
	cmd.Flags().StringVar(&at, "time", "", "also the offset for this time (RFC 3339, or Unix milliseconds)")
	return cmd
}

func topicOffsets(ctx context.Context, c *kafka.Client, name string, ts time.Time) ([]partitionOffsets, error) {
	t, err := c.Topic(ctx, name)
	if err != nil {
		return nil, err
	}
	lo, err := t.EarliestOffsets(ctx)
	if err != nil {
		return nil, err
	}
	hi, err := t.LatestOffsets(ctx)
	if err != nil {
		return nil, err
	}
	var at map[int32]int64
	if !ts.IsZero() {
		if at, err = t.OffsetsForTime(ctx, ts); err != nil {
			return nil, err
		}
	}
	var rows []partitionOffsets
	for _, p := range t.Partitions() {
		r := partitionOffsets{Topic: name, Partition: p.ID, Earliest: lo[p.ID], Latest: hi[p.ID]}
		if at != nil {
			v := at[p.ID]
			r.AtTime = &v
		}
		rows = append(rows, r)
	}
	slices.SortFunc(rows, func(a, b partitionOffsets) int { return int(a.Partition - b.Partition) })
	return rows, nil
}
