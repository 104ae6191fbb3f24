package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	kafka "github.com/gokafka/kafka"
	"github.com/gokafka/kafka/testinstance"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// bench is the cluster the harness measures against, plus an admin client
// (franz-go, the reference client) for end offsets and seeding.
type bench struct {
	cluster *testinstance.Cluster
	admin   *kgo.Client
	version string
}

// startCluster starts a fresh 3-broker cluster (KRaft, no ZooKeeper: no
// client here needs it, and it would only take CPU from the brokers), or
// connects to brokers if given.
func startCluster(ctx context.Context, brokers string, n int) (*bench, error) {
	b := &bench{}
	if brokers != "" {
		b.cluster = testinstance.Connect(strings.Split(brokers, ","), "")
		b.version = "external cluster"
	} else {
		c, err := testinstance.Start(ctx, testinstance.Config{Brokers: n, NoZooKeeper: true, Log: os.Stderr})
		if err != nil {
			return nil, err
		}
		b.cluster = c
		b.version = c.KafkaVersion()
	}
	admin, err := kgo.NewClient(kgo.SeedBrokers(b.cluster.Brokers()...), kgo.ClientID("bench-admin"))
	if err != nil {
		b.cluster.Close()
		return nil, err
	}
	b.admin = admin
	return b, nil
}

func (b *bench) Close() {
	b.admin.Close()
	b.cluster.Close()
}

// createTopic creates a topic replicated on 3 brokers (or as many as there
// are), with min.insync.replicas 2 so that acks=all means what it means in
// production.
func (b *bench) createTopic(ctx context.Context, name string, partitions int) error {
	rf := min(3, b.cluster.NumBrokers())
	return b.cluster.CreateTopic(ctx, name, partitions, rf, map[string]string{
		"min.insync.replicas": strconv.Itoa(min(2, rf)),
		// Free the disk soon after the harness deletes the topic (the
		// full matrix writes tens of GB).
		"file.delete.delay.ms": "1000",
	})
}

// createTopics creates topics (as createTopic), a few at a time.
func (b *bench) createTopics(ctx context.Context, names []string, partitions int) error {
	errs := make([]error, len(names))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = b.createTopic(ctx, name, partitions)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// deleteTopic deletes a topic; one already gone (a retried request whose
// first attempt went through) is fine.
func (b *bench) deleteTopic(ctx context.Context, name string) error {
	err := b.cluster.DeleteTopic(ctx, name)
	if errors.Is(err, kafka.ErrUnknownTopicOrPartition) {
		return nil
	}
	return err
}

// deleteTopics deletes topics, logging what it could not delete.
func (b *bench) deleteTopics(ctx context.Context, names []string) {
	for _, name := range names {
		if err := b.deleteTopic(ctx, name); err != nil {
			logf("deleting %s: %v", name, err)
		}
	}
}

// waitQuiet waits, up to max, until the rest of the machine (everything but
// the brokers) has used less than half a core over a 300 ms sample, so that
// a run does not start in the middle of someone else's burst of work. It
// returns the last sample, in cores.
func (b *bench) waitQuiet(ctx context.Context, max time.Duration) float64 {
	deadline := time.Now().Add(max)
	for {
		busy0, bcpu0 := machineBusy(), b.brokerCPU()
		t0 := time.Now()
		select {
		case <-time.After(300 * time.Millisecond):
		case <-ctx.Done():
			return -1
		}
		busy1, bcpu1 := machineBusy(), b.brokerCPU()
		if busy0 < 0 || busy1 < 0 {
			return -1
		}
		other := busy1 - busy0
		if bcpu0 >= 0 && bcpu1 >= 0 {
			other -= bcpu1 - bcpu0
		}
		load := other.Seconds() / time.Since(t0).Seconds()
		if load < 0.5 || time.Now().After(deadline) {
			return load
		}
	}
}

// endOffsets returns the high watermark of every partition of topics,
// indexed by topic index x partitions + partition. Right after a topic is
// created the admin client's metadata may still be stale
// (NOT_LEADER_OR_FOLLOWER and the like): it refreshes and retries for a
// while.
func (b *bench) endOffsets(ctx context.Context, topics []string, partitions int) ([]int64, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := b.listEnd(ctx, topics, partitions)
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return out, err
		}
		b.admin.ForceMetadataRefresh()
		select {
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
		}
	}
}

func (b *bench) listEnd(ctx context.Context, topics []string, partitions int) ([]int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	index := map[string]int{}
	for i, topic := range topics {
		index[topic] = i
		t := kmsg.NewListOffsetsRequestTopic()
		t.Topic = topic
		for p := range int32(partitions) {
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition = p
			rp.Timestamp = -1 // latest
			rp.CurrentLeaderEpoch = -1
			t.Partitions = append(t.Partitions, rp)
		}
		req.Topics = append(req.Topics, t)
	}
	out := make([]int64, len(topics)*partitions)
	seen := 0
	for _, sh := range b.admin.RequestSharded(ctx, req) {
		if sh.Err != nil {
			return nil, fmt.Errorf("ListOffsets: %w", sh.Err)
		}
		for _, rt := range sh.Resp.(*kmsg.ListOffsetsResponse).Topics {
			ti, ok := index[rt.Topic]
			for _, rp := range rt.Partitions {
				if rp.ErrorCode != 0 {
					return nil, fmt.Errorf("ListOffsets %s[%d]: error code %d", rt.Topic, rp.Partition, rp.ErrorCode)
				}
				if ok && int(rp.Partition) < partitions {
					out[ti*partitions+int(rp.Partition)] = rp.Offset
					seen++
				}
			}
		}
	}
	if seen != len(out) {
		return nil, fmt.Errorf("ListOffsets %s: %d of %d partitions answered", strings.Join(topics, ","), seen, len(out))
	}
	return out, nil
}

// brokerCPU is the CPU time (user+sys) the cluster's JVMs have used so far,
// read from /proc, or -1 when unknown. Brokers share the machine's cores
// with the client, so what a client makes the brokers spend is part of the
// picture. For an external cluster (-brokers) it counts every Kafka broker
// JVM on this machine (kafka.Kafka in the command line): right for a local
// dev cluster, though what other users of that cluster make it spend is
// counted too.
func (b *bench) brokerCPU() time.Duration {
	dir := "kafka.Kafka"
	if !b.cluster.External() {
		dir = b.cluster.Dir()
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return -1
	}
	var total time.Duration
	found := false
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(cmdline), dir) {
			continue
		}
		if d, ok := procCPU(pid); ok {
			total += d
			found = true
		}
	}
	if !found {
		return -1
	}
	return total
}

// procCPU reads utime+stime of a process from /proc/PID/stat.
func procCPU(pid int) (time.Duration, bool) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	s := string(raw)
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	// After the name: state(0) ppid(1) ... utime(11) stime(12), in clock ticks.
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	const hz = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / hz, true
}
