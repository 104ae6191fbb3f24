package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gokafka/kafka"
	"github.com/spf13/cobra"
)

func (a *app) groupsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "groups",
		Short: "List and describe consumer groups, show their lag, reset or delete their offsets",
		Example: `  gokafka groups list --type consumer,classic
  gokafka groups describe billing
  gokafka groups lag billing
  gokafka groups reset billing --to-earliest --topic events --dry-run
  gokafka groups delete billing`,
	}
	cmd.AddCommand(a.groupsList(), a.groupsDescribe(), a.groupsLag(), a.groupsReset(), a.groupsDelete())
	return cmd
}

func (a *app) groupsList() *cobra.Command {
	var types, states []string
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List the groups, with their types (classic, consumer, share) and states",
		Example: "  gokafka groups list\n  gokafka groups list --type share --state Stable -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := kafka.ListGroupsOptions{States: states}
			for _, t := range types {
				switch gt := kafka.GroupType(strings.ToLower(t)); gt {
				case kafka.GroupClassic, kafka.GroupConsumer, kafka.GroupShare, kafka.GroupStreams:
					opts.Types = append(opts.Types, gt)
				default:
					return usagef("--type %q: want classic, consumer, share or streams", t)
				}
			}
			return a.withClient(cmd, func(ctx context.Context, c *kafka.Client) error {
				list, err := c.ListGroups(ctx, opts)
				if list == nil && err != nil {
					return err
				}
				if serr := a.show(list, func() {
					t := a.newTable("GROUP", "TYPE", "STATE", "PROTOCOL-TYPE", "COORDINATOR")
					for _, g := range list {
						t.AppendRow([]any{g.ID, orDash(string(g.Type)), g.State, orDash(g.ProtocolType), g.Coordinator})
					}
					a.render(t)
				}); serr != nil {
					return serr
				}
				return err
			})
		},
	}
	cmd.Flags().StringSliceVar(&types, "type", nil, "only groups of these types: classic, consumer, share, streams")
	cmd.Flags().StringSliceVar(&states, "state", nil, "only groups in these states: Stable, Empty, PreparingRebalance, ...")
	return cmd
}

// groupView is a group as describe prints it in JSON.
type groupView struct {
	kafka.GroupDescription
	Error string `json:"Error,omitempty"`
}

func (a *app) groupsDescribe() *cobra.Command {
	return &cobra.Command{
		Use:     "describe GROUP...",
		Short:   "Describe groups: type, state, protocol, members with their client ids, hosts and partitions",
		Example: "  gokafka groups describe billing\n  gokafka groups describe billing audit -o json",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, ids []string) error {
			return a.withClient(cmd, func(ctx context.Context, c *kafka.Client) error {
				descs, err := c.DescribeGroups(ctx, ids...)
				if descs == nil {
					return err
				}
				views := make([]groupView, len(descs))
				for i, d := range descs {
					views[i] = groupView{d, errString(d.Err)}
				}
				if serr := a.show(views, func() {
					for i, d := range descs {
						if i > 0 {
							fmt.Fprintln(a.stdout)
						}
						if d.Err != nil {
							fmt.Fprintf(a.stdout, "Group: %s\tError: %s\n", d.ID, errString(d.Err))
							continue
						}
						fmt.Fprintf(a.stdout, "Group: %s\tType: %s\tState: %s\tProtocol: %s\tCoordinator: %d\tMembers: %d\n",
							d.ID, d.Type, d.State, orDash(d.Protocol), d.Coordinator, len(d.Members))
						if len(d.Members) == 0 {
							continue
						}
						t := a.newTable("MEMBER", "CLIENT-ID", "HOST", "ASSIGNMENT")
						for _, m := range d.Members {
							t.AppendRow([]any{m.ID, m.ClientID, m.Host, orDash(assignment(m.Assignment))})
						}
						a.render(t)
					}
				}); serr != nil {
					return serr
				}
				return err
			})
		},
	}
}

// assignment prints partitions as Kafka's tool does: "topic:0,1;other:3".
func assignment(tps []kafka.TopicPartition) string {
	var parts []string
	for i := 0; i < len(tps); {
		j := i
		var ps []int32
		for ; j < len(tps) && tps[j].Topic == tps[i].Topic; j++ {
			ps = append(ps, tps[j].Partition)
		}
		parts = append(parts, tps[i].Topic+":"+joinInts(ps))
		i = j
	}
	return strings.Join(parts, ";")
}

func (a *app) groupsLag() *cobra.Command {
	return &cobra.Command{
		Use:   "lag GROUP",
		Short: "Show a group's committed offsets and lag per partition",
		Long: `Show a group's committed offset, the log end offset and the lag (log end
minus committed) of every partition it has committed or its members own, with
the member that owns it, as kafka-consumer-groups --describe does.`,
		Example: "  gokafka groups lag billing\n  gokafka groups lag billing -o json | jq '.Partitions[] | select(.Lag > 1000)'",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withClient(cmd, func(ctx context.Context, c *kafka.Client) error {
				lag, err := c.GroupLag(ctx, args[0])
				if lag == nil {
					return err
				}
				if serr := a.show(lag, func() {
					fmt.Fprintf(a.stdout, "Group: %s\tType: %s\tState: %s\tMembers: %d\tTotalLag: %d\n", lag.Group, orDash(string(lag.Type)), lag.State, lag.Members, lag.TotalLag())
					t := a.newTable("TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID")
					for _, p := range lag.Partitions {
						t.AppendRow([]any{p.Topic, p.Partition, dash(p.Committed), dash(p.LogEnd), dash(p.Lag), orDash(p.MemberID), orDash(p.Host), orDash(p.ClientID)})
					}
					a.render(t)
				}); serr != nil {
					return serr
				}
				return err
			})
		},
	}
}

func (a *app) groupsReset() *cobra.Command {
	var (
		earliest, latest, allTopics, dryRun bool
		toTime                              string
		toOffset, shift                     int64
		topics                              []string
	)
	cmd := &cobra.Command{
		Use:   "reset GROUP",
		Short: "Reset a group's committed offsets (the group must have no live member)",
		Long: `Move a group's committed offsets: to the earliest or latest offset, to the
first message at or after a time, to an offset, or by a shift from the
committed offset (kept within each partition's log). Choose the partitions with
--topic (topic, or topic:0,1) or --all-topics (every partition the group has
committed). A group with live members is refused, as Kafka's tool does.`,
		Example: `  gokafka groups reset billing --to-earliest --all-topics
  gokafka groups reset billing --to-datetime 2026-11-25T10:00:00Z --topic events
  gokafka groups reset billing --shift-by -100 --topic events:0,1 --dry-run`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r := kafka.GroupOffsetReset{DryRun: dryRun}
			n := 0
			if earliest {
				r.To, n = kafka.ResetToEarliest, n+1
			}
			if latest {
				r.To, n = kafka.ResetToLatest, n+1
			}
			if cmd.Flags().Changed("to-datetime") {
				ts, err := parseTime(toTime)
				if err != nil {
					return usagef("--to-datetime: %v", err)
				}
				r.To, r.Time, n = kafka.ResetToTime, ts, n+1
			}
			if cmd.Flags().Changed("to-offset") {
				if toOffset < 0 {
					return usagef("--to-offset %d: want an offset >= 0", toOffset)
				}
				r.To, r.Offset, n = kafka.ResetToOffset, toOffset, n+1
			}
			if cmd.Flags().Changed("shift-by") {
				r.To, r.Shift, n = kafka.ResetShiftBy, shift, n+1
			}
			if n != 1 {
				return usagef("give one of --to-earliest, --to-latest, --to-datetime, --to-offset, --shift-by")
			}
			if allTopics == (len(topics) > 0) {
				return usagef("give --topic (repeatable) or --all-topics")
			}
			var err error
			if r.Topics, err = topicPartitions("--topic", topics); err != nil {
				return err
			}
			return a.withClient(cmd, func(ctx context.Context, c *kafka.Client) error {
				res, err := c.ResetGroupOffsets(ctx, args[0], r)
				if res == nil {
					return err
				}
				type row struct {
					kafka.OffsetResetResult
					Error string `json:"Error,omitempty"`
				}
				rows := make([]row, len(res))
				for i, x := range res {
					rows[i] = row{x, errString(x.Err)}
				}
				if serr := a.show(rows, func() {
					if dryRun {
						fmt.Fprintln(a.stdout, "Dry run: nothing committed.")
					}
					t := a.newTable("TOPIC", "PARTITION", "PREVIOUS-OFFSET", "NEW-OFFSET", "ERROR")
					for _, x := range rows {
						t.AppendRow([]any{x.Topic, x.Partition, dash(x.Previous), dash(x.New), x.Error})
					}
					a.render(t)
				}); serr != nil {
					return serr
				}
				return err
			})
		},
	}
	f := cmd.Flags()
	f.BoolVar(&earliest, "to-earliest", false, "to the oldest offset kept")
	f.BoolVar(&latest, "to-latest", false, "to the end: after the last message")
	f.StringVar(&toTime, "to-datetime", "", "to the first message at or after this time (RFC 3339, or Unix milliseconds)")
	f.Int64Var(&toOffset, "to-offset", 0, "to this offset")
	f.Int64Var(&shift, "shift-by", 0, "by this many messages from the committed offset (negative: back)")
	f.StringArrayVar(&topics, "topic", nil, "a topic, or topic:0,1,2 (repeatable)")
	f.BoolVar(&allTopics, "all-topics", false, "every partition the group has committed")
	f.BoolVar(&dryRun, "dry-run", false, "show the new offsets without committing them")
	return cmd
}

// parseTime reads RFC 3339 (with or without seconds' fraction or zone) or
// Unix milliseconds.
func parseTime(s string) (time.Time, error) {
	if ms, err := parseInt(s); err == nil {
		return time.UnixMilli(ms), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is neither RFC 3339 (2006-01-02T15:04:05Z) nor Unix milliseconds", s)
}

func (a *app) groupsDelete() *cobra.Command {
	var topics []string
	cmd := &cobra.Command{
		Use:   "delete GROUP...",
		Short: "Delete groups (with their offsets), or only their offsets of some topics",
		Example: `  gokafka groups delete billing audit
  gokafka groups delete billing --topic events --topic audit:0`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, ids []string) error {
			sel, err := topicPartitions("--topic", topics)
			if err != nil {
				return err
			}
			return a.withClient(cmd, func(ctx context.Context, c *kafka.Client) error {
				if len(sel) == 0 {
					res, err := c.DeleteGroups(ctx, ids...)
					if res == nil {
						return err
					}
					names, errs := make([]string, len(res)), make([]error, len(res))
					for i, r := range res {
						names[i], errs[i] = r.ID, r.Err
					}
					if serr := a.showResults("group", names, errs); serr != nil {
						return serr
					}
					return err
				}
				var names []string
				var errs []error
				var whole []error
				for _, id := range ids {
					tps, err := a.groupPartitions(ctx, c, id, sel)
					if err != nil {
						return err
					}
					res, err := c.DeleteGroupOffsets(ctx, id, tps...)
					if res == nil {
						return err
					}
					for _, r := range res {
						names, errs = append(names, id+" "+r.String()), append(errs, r.Err)
					}
					if err != nil {
						whole = append(whole, err)
					}
				}
				if serr := a.showResults("group offset", names, errs); serr != nil {
					return serr
				}
				if len(whole) > 0 {
					return whole[0]
				}
				return nil
			})
		},
	}
	cmd.Flags().StringArrayVar(&topics, "topic", nil, "delete only the offsets of this topic, or topic:0,1 (repeatable)")
	return cmd
}

// groupPartitions expands a topic selection to the group's committed
// partitions of those topics (a topic without a list: all it committed).
func (a *app) groupPartitions(ctx context.Context, c *kafka.Client, group string, sel map[string][]int32) ([]kafka.TopicPartition, error) {
	committed, err := c.CommittedOffsets(ctx, group)
	if err != nil {
		return nil, err
	}
	var tps []kafka.TopicPartition
	for topic, ps := range sel {
		if ps == nil {
			for tp := range committed {
				if tp.Topic == topic {
					tps = append(tps, tp)
				}
			}
			continue
		}
		for _, p := range ps {
			tps = append(tps, kafka.TopicPartition{Topic: topic, Partition: p})
		}
	}
	if len(tps) == 0 {
		return nil, fmt.Errorf("%w: group %q has no committed offset of those topics", kafka.ErrUnknownTopic, group)
	}
	return tps, nil
}
