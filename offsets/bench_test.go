package offsets

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// The offsets calls are not per-message paths (a commit covers an interval's
// worth of messages), but an auto-committer of a consumer of many topics
// builds and reads one request per interval over every partition: these
// measure that work for 10 topics of 12 partitions, the benchmark
// shape.

func benchOffsets() map[TopicPartition]Commit {
	offs := map[TopicPartition]Commit{}
	for i := range 10 {
		for p := range int32(12) {
			offs[TopicPartition{Topic: fmt.Sprintf("bench-topic-%02d", i), Partition: p}] = Commit{Offset: int64(p) * 1000, LeaderEpoch: 3}
		}
	}
	return offs
}

// BenchmarkCommitRequest: build and encode one OffsetCommit for 120
// partitions of 10 topics, and read its response.
func BenchmarkCommitRequest(b *testing.B) {
	g := &Group{id: "bench-group"}
	offs := benchOffsets()
	tps := slices.Collect(maps.Keys(offs))
	resp := kmsg.NewPtrOffsetCommitResponse()
	for _, t := range byTopic(tps) {
		rt := kmsg.NewOffsetCommitResponseTopic()
		rt.Topic = t.topic
		for _, p := range t.parts {
			rp := kmsg.NewOffsetCommitResponseTopicPartition()
			rp.Partition = p
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		req := g.commitRequest(offs, tps, Generation{})
		req.Version = 9
		buf = req.AppendTo(buf[:0])
		if out := commitOutcome(resp); len(out) != len(tps) {
			b.Fatalf("%d outcomes", len(out))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(tps)), "ns/partition")
}

// BenchmarkFetchOutcome: read an OffsetFetch v8 response of 120 partitions
// of 10 topics.
func BenchmarkFetchOutcome(b *testing.B) {
	offs := benchOffsets()
	resp := kmsg.NewPtrOffsetFetchResponse()
	resp.Version = 8
	rg := kmsg.NewOffsetFetchResponseGroup()
	rg.Group = "bench-group"
	for _, t := range byTopic(slices.Collect(maps.Keys(offs))) {
		gt := kmsg.NewOffsetFetchResponseGroupTopic()
		gt.Topic = t.topic
		for _, p := range t.parts {
			gp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
			gp.Partition = p
			gp.Offset = offs[TopicPartition{Topic: t.topic, Partition: p}].Offset
			gt.Partitions = append(gt.Partitions, gp)
		}
		rg.Topics = append(rg.Topics, gt)
	}
	resp.Groups = []kmsg.OffsetFetchResponseGroup{rg}
	b.ReportAllocs()
	for b.Loop() {
		commits, _, err := fetchOutcome(resp, "bench-group")
		if err != nil || len(commits) != len(offs) {
			b.Fatalf("%d commits, %v", len(commits), err)
		}
	}
}
