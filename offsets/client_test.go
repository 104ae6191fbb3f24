package offsets_test

import (
	"errors"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/offsets"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// A user's *kafka.Client is an offsets.Cluster: the offset store works over
// its connections, and a missing one is a configuration error, not a panic.
func TestGroupOverClient(t *testing.T) {
	ctx := testhelp.Ctx(t, 60*time.Second)
	client, err := kafka.NewClient(ctx, testinstance.Shared().BootstrapServers())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	topic := testhelp.CreateTopic(t, nil, 2)
	g, err := offsets.NewGroup(client, testhelp.UniqueName(t, "group"), offsets.GroupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tp := offsets.TopicPartition{Topic: topic, Partition: 1}
	if err := g.Commit(ctx, map[offsets.TopicPartition]offsets.Commit{tp: offsets.At(42)}, offsets.Generation{}); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	got, err := g.Fetch(ctx, []offsets.TopicPartition{tp})
	if err != nil || got[tp].Offset != 42 {
		t.Fatalf("Fetch = %v, %v; want offset 42", got, err)
	}
	id, err := g.Coordinator(ctx)
	if err != nil || !hasBroker(client.Brokers(), id) {
		t.Fatalf("Coordinator = %d, %v; want one of %v", id, err, client.Brokers())
	}
	end, err := offsets.List(ctx, client, []offsets.TopicPartition{tp}, offsets.Latest)
	if err != nil || end[tp] != 0 {
		t.Fatalf("List = %v, %v; want 0 for an empty partition", end, err)
	}

	for name, c := range map[string]offsets.Cluster{"nil": nil, "nil client": (*kafka.Client)(nil), "zero client": &kafka.Client{}} {
		if _, err := offsets.NewGroup(c, "g", offsets.GroupOptions{}); !errors.Is(err, kafka.ErrInvalidConfig) {
			t.Errorf("NewGroup(%s) = %v, want ErrInvalidConfig", name, err)
		}
		if _, err := offsets.List(ctx, c, []offsets.TopicPartition{tp}, offsets.Latest); !errors.Is(err, kafka.ErrInvalidConfig) {
			t.Errorf("List(%s) = %v, want ErrInvalidConfig", name, err)
		}
	}
}

func hasBroker(bs []kafka.Broker, id int32) bool {
	for _, b := range bs {
		if b.ID == id {
			return true
		}
	}
	return false
}
