package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/testinstance"
	"github.com/spf13/cobra"
)

func (a *app) clusterCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Show the cluster's id, controller and brokers; API versions; run a throwaway cluster",
		Example: `  gokafka cluster
  gokafka cluster versions
  gokafka cluster up --brokers 3 --export-hosts /tmp/kafka.env`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.clusterBrokers(cmd) },
	}
	brokers := &cobra.Command{
		Use:     "brokers",
		Short:   "Show the cluster's id, controller and brokers (what gokafka cluster shows)",
		Example: "  gokafka cluster brokers -o json",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return a.clusterBrokers(cmd) },
	}
	cmd.AddCommand(brokers, a.clusterVersions(), a.clusterUp())
	return cmd
}

func (a *app) clusterBrokers(cmd *cobra.Command) error {
	return a.withClient(cmd, func(ctx context.Context, c *kafka.Client) error {
		d, err := c.DescribeCluster(ctx)
		if err != nil {
			return err
		}
		return a.show(d, func() {
			fmt.Fprintf(a.stdout, "Cluster: %s\tController: %d\tBrokers: %d\n", d.ClusterID, d.Controller, len(d.Brokers))
			t := a.newTable("ID", "HOST", "PORT", "RACK")
			for _, b := range d.Brokers {
				t.AppendRow([]any{b.ID, b.Host, b.Port, orDash(b.Rack)})
			}
			a.render(t)
		})
	})
}

func (a *app) clusterVersions() *cobra.Command {
	return &cobra.Command{
		Use:     "versions",
		Short:   "Show the request versions each broker supports",
		Example: "  gokafka cluster versions\n  gokafka cluster versions -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withClient(cmd, func(ctx context.Context, c *kafka.Client) error {
				vs, err := c.APIVersions(ctx)
				if vs == nil {
					return err
				}
				if serr := a.show(vs, func() {
					header := []any{"KEY", "API"}
					for _, v := range vs {
						header = append(header, fmt.Sprintf("BROKER %d", v.ID))
					}
					t := a.newTable(header...)
					keys := map[int16]string{}
					for _, v := range vs {
						for _, api := range v.APIs {
							keys[api.Key] = api.Name
						}
					}
					for k := int16(0); k < 128; k++ {
						name, ok := keys[k]
						if !ok {
							continue
						}
						row := []any{k, name}
						for _, v := range vs {
							cell := "-"
							for _, api := range v.APIs {
								if api.Key == k {
									cell = fmt.Sprintf("%d-%d", api.Min, api.Max)
								}
							}
							row = append(row, cell)
						}
						t.AppendRow(row)
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

func (a *app) clusterUp() *cobra.Command {
	var (
		n                    int
		kafkaVersion, export string
		noZK, verbose        bool
		startTimeout         time.Duration
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run a throwaway local Kafka cluster (KRaft, no Docker) until interrupted",
		Long: `Run a throwaway local cluster: Kafka from Maven Central's jars (cached), on
127.0.0.1, with a ZooKeeper for ZooKeeper-balanced consumers, until Ctrl-C,
which stops it and removes its data. Needs a JDK 17+ and Maven. It is what
cmd/kafka-instance runs (the make targets use that one).`,
		Example: "  gokafka cluster up --brokers 3\n  gokafka cluster up -brokers 1 --export-hosts /tmp/kafka.env --kafka-version 3.9.1",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if n < 1 {
				return usagef("--brokers %d: want at least 1", n)
			}
			cfg := testinstance.Config{Brokers: n, KafkaVersion: kafkaVersion, NoZooKeeper: noZK, Log: a.stderr, StartTimeout: startTimeout}
			if verbose {
				cfg.ProcessLog = a.stderr
			}
			ctx := cmd.Context()
			began := time.Now()
			c, err := testinstance.Start(ctx, cfg)
			if err != nil {
				return err
			}
			defer c.Close()
			fmt.Fprintf(a.stdout, "Brokers: %s\n", c.BootstrapServers())
			if zk := c.ZooKeeper(); zk != "" {
				fmt.Fprintf(a.stdout, "ZooKeeper: %s\n", zk)
			}
			fmt.Fprintf(a.stdout, "Ready in %s (Kafka %s, data in %s); Ctrl-C to stop\n", time.Since(began).Round(time.Millisecond), c.KafkaVersion(), c.Dir())
			if export != "" {
				content := testinstance.EnvBrokers + "=" + c.BootstrapServers() + "\n"
				if zk := c.ZooKeeper(); zk != "" {
					content += testinstance.EnvZooKeeper + "=" + zk + "\n"
				}
				tmp := filepath.Join(filepath.Dir(export), "."+filepath.Base(export)+".tmp")
				if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
					return err
				}
				if err := os.Rename(tmp, export); err != nil {
					return err
				}
				defer os.Remove(export)
			}
			<-ctx.Done()
			fmt.Fprintln(a.stderr, "gokafka: stopping the cluster")
			if err := c.Close(); err != nil {
				return err
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&n, "brokers", testinstance.DefaultBrokers, "number of Kafka nodes (each a broker and a KRaft controller)")
	f.StringVar(&kafkaVersion, "kafka-version", "", "Kafka version (default $GOKAFKA_KAFKA_VERSION, else "+testinstance.DefaultKafkaVersion+")")
	f.StringVar(&export, "export-hosts", "", "write BROKERS=... and ZOOKEEPER=... lines to this file once ready")
	f.BoolVar(&noZK, "no-zookeeper", false, "do not start ZooKeeper")
	f.BoolVar(&verbose, "v", false, "stream the Kafka and ZooKeeper logs to stderr")
	f.DurationVar(&startTimeout, "start-timeout", 2*time.Minute, "how long the nodes may take to become ready")
	return cmd
}
