package cluster

import (
	"errors"
	"testing"

	"github.com/gokafka/kafka/internal/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The seeds run in every go test; fuzz further with
//
//	go test -run '^$' -fuzz '^FuzzMetadataMerge$' -fuzztime 10m ./internal/cluster/
//
// Property: any MetadataResponse that kmsg decodes merges into a snapshot
// without panicking, and the snapshot it gives is consistent: partitions are
// indexed by id, lookups return a partition or a typed error, topics not in
// a partial response are kept, and publishing it reconciles brokers.

// seedMetadata is a plausible response: three brokers, a healthy topic, one
// with a leaderless partition, one unknown, one with a retriable error.
func seedMetadata(version int16) *kmsg.MetadataResponse {
	resp := kmsg.NewPtrMetadataResponse()
	resp.SetVersion(version)
	resp.ClusterID = kmsg.StringPtr("cluster")
	resp.ControllerID = 1
	for id := int32(1); id <= 3; id++ {
		b := kmsg.NewMetadataResponseBroker()
		b.NodeID, b.Host, b.Port = id, "127.0.0.1", 9090+id
		resp.Brokers = append(resp.Brokers, b)
	}
	topic := func(name string, code int16, leaders ...int32) {
		t := kmsg.NewMetadataResponseTopic()
		t.Topic, t.ErrorCode = kmsg.StringPtr(name), code
		t.TopicID[0] = byte(len(name))
		for i, l := range leaders {
			p := kmsg.NewMetadataResponseTopicPartition()
			p.Partition, p.Leader, p.LeaderEpoch = int32(i), l, 3
			p.Replicas, p.ISR = []int32{1, 2, 3}, []int32{1, 2}
			if l < 0 {
				p.ErrorCode = kerr.LeaderNotAvailable.Code
			}
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	topic("healthy", 0, 1, 2, 3)
	topic("electing", 0, 2, -1)
	topic("gone", kerr.UnknownTopicOrPartition.Code)
	topic("busy", kerr.LeaderNotAvailable.Code)
	return resp
}

func FuzzMetadataMerge(f *testing.F) {
	for _, v := range []int16{0, 1, 5, 7, 9, 10, 12} {
		f.Add(uint8(v), false, seedMetadata(v).AppendTo(nil))
		f.Add(uint8(v), true, seedMetadata(v).AppendTo(nil))
	}
	// Partition ids that are sparse, negative, duplicated and huge.
	odd := seedMetadata(12)
	for i, id := range []int32{5, -1, 5, 2147483647} {
		p := kmsg.NewMetadataResponseTopicPartition()
		p.Partition, p.Leader = id, int32(i)
		odd.Topics[0].Partitions = append(odd.Topics[0].Partitions, p)
	}
	f.Add(uint8(12), false, odd.AppendTo(nil))
	f.Add(uint8(12), false, []byte{})

	prev := emptySnapshot().merge(seedMetadata(12), true)
	f.Fuzz(func(t *testing.T, version uint8, all bool, data []byte) {
		resp := kmsg.NewPtrMetadataResponse()
		resp.SetVersion(int16(version) % (resp.MaxVersion() + 1))
		if resp.ReadFrom(data) != nil {
			return // the connection rejects what kmsg cannot decode
		}
		next := prev.merge(resp, all)
		checkSnapshot(t, prev, next, resp, all)
		// Publishing reconciles brokers without dialling anyone.
		c := &Cluster{cfg: Config{}.withDefaults(), brokers: map[int32]*Broker{}, updated: make(chan struct{}), closing: make(chan struct{})}
		c.snap.Store(prev)
		c.publish(next)
		for name, tm := range next.Topics {
			for p := int32(-1); p <= int32(len(tm.Partitions)); p++ {
				if _, _, err := c.Leader(name, p); err != nil {
					checkLookupErr(t, err)
				}
			}
		}
		c.Close()
	})
}

func emptySnapshot() *Snapshot {
	return &Snapshot{ControllerID: -1, Brokers: map[int32]BrokerMeta{}, Topics: map[string]*TopicMeta{}}
}

func checkSnapshot(t *testing.T, prev, next *Snapshot, resp *kmsg.MetadataResponse, all bool) {
	t.Helper()
	if next.Brokers == nil || next.Topics == nil {
		t.Fatal("nil maps in the snapshot")
	}
	inResp := map[string]bool{}
	for _, rt := range resp.Topics {
		if rt.Topic != nil {
			inResp[*rt.Topic] = true
		}
	}
	if !all {
		for name, old := range prev.Topics {
			if !inResp[name] && next.Topics[name] != old {
				t.Fatalf("topic %q, absent from a partial response, was not kept", name)
			}
		}
	}
	for name, tm := range next.Topics {
		if all && !inResp[name] {
			t.Fatalf("topic %q kept after a full response without it", name)
		}
		meta, err := next.Topic(name)
		if err != nil {
			checkLookupErr(t, err)
			continue
		}
		if meta != tm {
			t.Fatalf("Topic(%q) returned another value", name)
		}
		for i, p := range tm.Partitions {
			if p.ID != int32(i) {
				t.Fatalf("topic %q: Partitions[%d] has id %d", name, i, p.ID)
			}
		}
		for _, p := range []int32{-1, int32(len(tm.Partitions)), -2147483648, 2147483647} {
			if _, err := tm.Partition(p); !errors.Is(err, kerr.ErrUnknownPartition) {
				t.Fatalf("topic %q partition %d of %d: %v, want ErrUnknownPartition", name, p, len(tm.Partitions), err)
			}
		}
	}
}

// checkLookupErr fails t unless err is a typed metadata error.
func checkLookupErr(t *testing.T, err error) {
	t.Helper()
	var ke *kerr.Error
	if !errors.Is(err, kerr.ErrUnknownTopic) && !errors.Is(err, kerr.ErrUnknownPartition) &&
		!errors.Is(err, kerr.ErrCorruptResponse) && !errors.As(err, &ke) {
		t.Fatalf("untyped lookup error: %v", err)
	}
}
