package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/gokafka/kafka"
	"github.com/spf13/cobra"
)

func (a *app) topicsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "topics",
		Short: "List, describe, create, delete and alter topics",
		Example: `  gokafka topics list
  gokafka topics describe events
  gokafka topics create events -p 6 -r 3 --config retention.ms=86400000
  gokafka topics alter events --partitions 12 --set retention.ms=3600000 --delete cleanup.policy
  gokafka topics delete events`,
	}
	cmd.AddCommand(a.topicsList(), a.topicsDescribe(), a.topicsCreate(), a.topicsDelete(), a.topicsAlter())
	return cmd
}

func (a *app) topicsList() *cobra.Command {
	var internal bool
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List the topics, with their partition counts and replication factors",
		Example: "  gokafka topics list\n  gokafka topics list --internal -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withClient(cmd, func(ctx context.Context, c *kafka.Client) error {
				list, err := c.ListTopics(ctx, kafka.ListTopicsOptions{Internal: internal})
				if err != nil {
					return err
				}
				return a.show(list, func() {
					t := a.newTable("TOPIC", "PARTITIONS", "REPLICATION", "ID")
					for _, l := range list {
						t.AppendRow([]any{l.Name, l.Partitions, l.ReplicationFactor, l.ID})
					}
					a.render(t)
				})
			})
		},
	}
	cmd.Flags().BoolVar(&internal, "internal", false, "include Kafka's internal topics (__consumer_offsets, ...)")
	return cmd
}

// topicView is a topic as describe prints it in JSON.
type topicView struct {
	kafka.TopicDescription
	Error   string              `json:"Error,omitempty"`
	Configs []kafka.ConfigEntry `json:"Configs,omitempty"`
}

func (a *app) topicsDescribe() *cobra.Command {
	var allConfigs bool
	cmd := &cobra.Command{
		Use:   "describe [TOPIC...]",
		Short: "Describe topics: partitions, leaders, replicas, in-sync replicas, configs",
		Long: `Describe topics (all of them when none is named): each partition's leader,
replicas, in-sync and offline replicas, and the configs that are not at Kafka's
built-in default, set on the topic or on the brokers, as kafka-topics prints
them (with --configs, every config, where its value comes from, and whether
it is a default: not set on the topic itself).`,
		Example: "  gokafka topics describe events\n  gokafka topics describe events --configs\n  gokafka topics describe -o json",
		RunE: func(cmd *cobra.Command, names []string) error {
			return a.withClient(cmd, func(ctx context.Context, c *kafka.Client) error {
				descs, derr := c.DescribeTopics(ctx, names...)
				if descs == nil {
					return derr
				}
				var res []kafka.ConfigResource
				for _, d := range descs {
					if d.Err == nil {
						res = append(res, kafka.ConfigResource{Type: kafka.ConfigTopic, Name: d.Name})
					}
				}
				cfgs := map[string][]kafka.ConfigEntry{}
				if len(res) > 0 {
					rc, err := c.DescribeConfigs(ctx, res...)
					if rc == nil {
						return err
					}
					for _, r := range rc {
						for _, e := range r.Entries {
							// As kafka-topics: what is not Kafka's built-in
							// default (set on the topic or on the brokers).
							if allConfigs || e.Source != kafka.ConfigSourceDefault {
								cfgs[r.Name] = append(cfgs[r.Name], e)
							}
						}
					}
				}
				views := make([]topicView, len(descs))
				for i, d := range descs {
					views[i] = topicView{TopicDescription: d, Error: errString(d.Err), Configs: cfgs[d.Name]}
				}
				err := a.show(views, func() {
					for i, v := range views {
						if i > 0 {
							fmt.Fprintln(a.stdout)
						}
						if v.Err != nil {
							fmt.Fprintf(a.stdout, "Topic: %s\tError: %s\n", v.Name, v.Error)
							continue
						}
						var set []string
						for _, e := range v.Configs {
							if e.Source != kafka.ConfigSourceDefault {
								set = append(set, e.Name+"="+e.Value)
							}
						}
						fmt.Fprintf(a.stdout, "Topic: %s\tTopicId: %s\tPartitionCount: %d\tReplicationFactor: %d\tConfigs: %s\n",
							v.Name, v.ID, len(v.Partitions), v.ReplicationFactor, strings.Join(set, ","))
						t := a.newTable("PARTITION", "LEADER", "REPLICAS", "ISR", "OFFLINE")
						for _, p := range v.Partitions {
							t.AppendRow([]any{p.ID, p.Leader, joinInts(p.Replicas), joinInts(p.ISR), orDash(joinInts(p.Offline))})
						}
						a.render(t)
						if allConfigs {
							ct := a.newTable("CONFIG", "VALUE", "SOURCE", "DEFAULT")
							for _, e := range v.Configs {
								value := e.Value
								if e.Sensitive {
									value = "(sensitive)"
								}
								ct.AppendRow([]any{e.Name, value, e.Source, e.IsDefault})
							}
							a.render(ct)
						}
					}
				})
				if err != nil {
					return err
				}
				return derr
			})
		},
	}
	cmd.Flags().BoolVar(&allConfigs, "configs", false, "show every config with its source, defaults included")
	return cmd
}

// resultsView prints per-item results: a table of the items and their
// outcome, or JSON.
func (a *app) showResults(kind string, items []string, errs []error) error {
	type row struct {
		Name  string `json:"name"`
		Error string `json:"error,omitempty"`
	}
	rows := make([]row, len(items))
	for i := range items {
		rows[i] = row{items[i], errString(errs[i])}
	}
	return a.show(rows, func() {
		t := a.newTable(strings.ToUpper(kind), "RESULT")
		for _, r := range rows {
			res := "ok"
			if r.Error != "" {
				res = r.Error
			}
			t.AppendRow([]any{r.Name, res})
		}
		a.render(t)
	})
}

func topicResults(a *app, res []kafka.TopicResult, err error) error {
	if res == nil {
		return err
	}
	names := make([]string, len(res))
	errs := make([]error, len(res))
	for i, r := range res {
		names[i], errs[i] = r.Name, r.Err
	}
	if serr := a.showResults("topic", names, errs); serr != nil {
		return serr
	}
	return err
}

func (a *app) topicsCreate() *cobra.Command {
	var partitions int32
	var replicas int16
	var configs []string
	cmd := &cobra.Command{
		Use:     "create TOPIC...",
		Short:   "Create topics",
		Example: "  gokafka topics create events -p 6 -r 3\n  gokafka topics create audit --config cleanup.policy=compact --config retention.ms=-1",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, names []string) error {
			cfg, err := kv("--config", configs)
			if err != nil {
				return err
			}
			return a.withClient(cmd, func(ctx context.Context, c *kafka.Client) error {
				var topics []kafka.NewTopic
				for _, n := range names {
					topics = append(topics, kafka.NewTopic{Name: n, TopicConfig: kafka.TopicConfig{Partitions: partitions, ReplicationFactor: replicas, Configs: cfg}})
				}
				res, err := c.CreateTopics(ctx, topics...)
				return topicResults(a, res, err)
			})
		},
	}
	cmd.Flags().Int32VarP(&partitions, "partitions", "p", 0, "partitions (default: the brokers' num.partitions)")
	cmd.Flags().Int16VarP(&replicas, "replication-factor", "r", 0, "replicas of each partition (default: the brokers' default.replication.factor)")
	cmd.Flags().StringArrayVar(&configs, "config", nil, "a topic config, key=value (repeatable)")
	return cmd
}

func (a *app) topicsDelete() *cobra.Command {
	return &cobra.Command{
		Use:     "delete TOPIC...",
		Short:   "Delete topics",
		Example: "  gokafka topics delete events audit",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, names []string) error {
			return a.withClient(cmd, func(ctx context.Context, c *kafka.Client) error {
				res, err := c.DeleteTopics(ctx, names...)
				return topicResults(a, res, err)
			})
		},
	}
}

func (a *app) topicsAlter() *cobra.Command {
	var partitions int32
	var set, del, appendTo, subtract []string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "alter TOPIC...",
		Short: "Add partitions, or set and delete (back to the default) topic configs",
		Example: `  gokafka topics alter events --partitions 12
  gokafka topics alter events --set retention.ms=3600000 --delete cleanup.policy
  gokafka topics alter events --set retention.ms=bad --dry-run`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, names []string) error {
			sets, err := kv("--set", set)
			if err != nil {
				return err
			}
			apps, err := kv("--append", appendTo)
			if err != nil {
				return err
			}
			subs, err := kv("--subtract", subtract)
			if err != nil {
				return err
			}
			var changes []kafka.ConfigChange
			for _, k := range slices.Sorted(maps.Keys(sets)) {
				changes = append(changes, kafka.ConfigChange{Name: k, Op: kafka.ConfigSet, Value: sets[k]})
			}
			for _, k := range slices.Sorted(maps.Keys(apps)) {
				changes = append(changes, kafka.ConfigChange{Name: k, Op: kafka.ConfigAppend, Value: apps[k]})
			}
			for _, k := range slices.Sorted(maps.Keys(subs)) {
				changes = append(changes, kafka.ConfigChange{Name: k, Op: kafka.ConfigSubtract, Value: subs[k]})
			}
			for _, k := range del {
				changes = append(changes, kafka.ConfigChange{Name: k, Op: kafka.ConfigDelete})
			}
			if partitions == 0 && len(changes) == 0 {
				return usagef("nothing to alter: give --partitions, --set, --delete, --append or --subtract")
			}
			if partitions > 0 && dryRun {
				return usagef("--dry-run checks configs only, not --partitions")
			}
			return a.withClient(cmd, func(ctx context.Context, c *kafka.Client) error {
				errs := make([]error, len(names))
				var whole error
				if partitions > 0 {
					counts := map[string]int32{}
					for _, n := range names {
						counts[n] = partitions
					}
					res, err := c.CreatePartitions(ctx, counts)
					if res == nil {
						return err
					}
					for _, r := range res {
						errs[slices.Index(names, r.Name)] = r.Err
					}
					whole = err
				}
				if len(changes) > 0 {
					var alts []kafka.ConfigAlteration
					for _, n := range names {
						alts = append(alts, kafka.ConfigAlteration{ConfigResource: kafka.ConfigResource{Type: kafka.ConfigTopic, Name: n}, Changes: changes})
					}
					res, err := c.AlterConfigs(ctx, kafka.AlterConfigsOptions{ValidateOnly: dryRun}, alts...)
					if res == nil {
						return err
					}
					for i, r := range res {
						if errs[i] == nil {
							errs[i] = r.Err
						}
					}
					if whole == nil {
						whole = err
					}
				}
				if err := a.showResults("topic", names, errs); err != nil {
					return err
				}
				return whole
			})
		},
	}
	f := cmd.Flags()
	f.Int32Var(&partitions, "partitions", 0, "raise the partition count to this total")
	f.StringArrayVar(&set, "set", nil, "set a config, key=value (repeatable)")
	f.StringArrayVar(&del, "delete", nil, "delete a config: it takes its default again (repeatable)")
	f.StringArrayVar(&appendTo, "append", nil, "append to a list config, key=value (repeatable)")
	f.StringArrayVar(&subtract, "subtract", nil, "remove from a list config, key=value (repeatable)")
	f.BoolVar(&dryRun, "dry-run", false, "have the brokers check the config changes without making them")
	return cmd
}
