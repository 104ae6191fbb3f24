package kafka

import (
	"context"
	"fmt"
	"testing"

	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// BenchmarkMetadataRefresh is what one metadata refresh costs the client
// for wide shapes (issue 16's scale figures): a topic of 1 000 partitions,
// and 50 topics of 12, each loaded by name. Run it by hand (it creates the
// topics on the shared cluster, 3 replicas each):
//
//	go test -run '^$' -bench MetadataRefresh -benchtime 50x .
//
// The wall time per refresh includes the broker's answer; allocations are
// the client's alone.
func BenchmarkMetadataRefresh(b *testing.B) {
	ctx := context.Background()
	c, err := NewClient(ctx, testinstance.Shared().BootstrapServers())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	create := func(name string, partitions int32) string {
		if _, err := c.CreateTopic(ctx, name, TopicConfig{Partitions: partitions, ReplicationFactor: 3}); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.DeleteTopic(context.Background(), name) })
		return name
	}
	base := testhelp.UniqueName(b, "wide")
	wide := []string{create(base+"-p1000", 1000)}
	var many []string
	for i := range 50 {
		many = append(many, create(fmt.Sprintf("%s-t%02d", base, i), 12))
	}
	for _, shape := range []struct {
		name       string
		topics     []string
		partitions int
	}{{"p1000", wide, 1000}, {"t50xp12", many, 600}} {
		b.Run(shape.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := c.cluster.RefreshTopics(ctx, shape.topics...); err != nil {
					b.Fatal(err)
				}
			}
			snap := c.cluster.Snapshot()
			n := 0
			for _, t := range shape.topics {
				if tm := snap.Topics[t]; tm != nil {
					n += len(tm.Partitions)
				}
			}
			if n != shape.partitions {
				b.Fatalf("the snapshot holds %d partitions of the %d", n, shape.partitions)
			}
		})
	}
}
