package offsets_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/offsets"
)

var client *kafka.Client // from kafka.NewClient

// A consumer that assigns its own partitions, of two topics, commits what it
// processed (the next offset to read) in one call and resumes from it after
// a restart.
func ExampleGroup_Commit() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	g, err := offsets.NewGroup(client, "billing", offsets.GroupOptions{})
	if err != nil {
		log.Fatal(err)
	}
	invoices0 := offsets.TopicPartition{Topic: "invoices", Partition: 0}
	refunds0 := offsets.TopicPartition{Topic: "refunds", Partition: 0}
	lastInvoice, lastRefund := int64(41), int64(7)
	err = g.Commit(ctx, map[offsets.TopicPartition]offsets.Commit{
		invoices0: offsets.At(lastInvoice + 1),
		refunds0:  offsets.At(lastRefund + 1),
	}, offsets.Generation{})
	if err != nil {
		log.Fatal(err)
	}

	mine := []offsets.TopicPartition{invoices0, {Topic: "invoices", Partition: 1}, refunds0}
	committed, err := g.Fetch(ctx, mine)
	if err != nil {
		log.Fatal(err)
	}
	for _, tp := range mine {
		if c, ok := committed[tp]; ok {
			fmt.Printf("%s resumes at %d\n", tp, c.Offset)
		} else {
			fmt.Printf("%s: nothing committed, apply the reset policy\n", tp)
		}
	}
}

// A group member reacts to the errors that mean it lost its partitions.
func ExampleGroup_Commit_member() {
	ctx := context.Background()
	g, _ := offsets.NewGroup(client, "billing", offsets.GroupOptions{})
	gen := offsets.Generation{ID: 12, MemberID: "consumer-1-8c6f..."} // from JoinGroup
	err := g.Commit(ctx, map[offsets.TopicPartition]offsets.Commit{
		{Topic: "invoices", Partition: 3}: {Offset: 1000, LeaderEpoch: 5},
		{Topic: "refunds", Partition: 1}:  {Offset: 20, LeaderEpoch: 5},
	}, gen)
	switch {
	case errors.Is(err, kafka.ErrRebalanceInProgress), errors.Is(err, kafka.ErrIllegalGeneration), errors.Is(err, kafka.ErrUnknownMemberID):
		// Rejoin the group; do not retry the commit.
	case err != nil:
		for tp, pe := range offsets.Partitions(err) {
			log.Printf("%s not committed: %v", tp, pe.Err)
		}
	}
}

// A tool lists everything a group has committed, whatever its topics, and
// how far each partition lags behind its log end.
func ExampleGroup_FetchAll() {
	ctx := context.Background()
	g, _ := offsets.NewGroup(client, "billing", offsets.GroupOptions{})
	committed, err := g.FetchAll(ctx)
	if err != nil {
		log.Fatal(err)
	}
	tps := slices.SortedFunc(maps.Keys(committed), offsets.TopicPartition.Compare)
	end, err := offsets.List(ctx, client, tps, offsets.Latest)
	if err != nil {
		log.Printf("some end offsets unknown: %v", err)
	}
	for _, tp := range tps {
		fmt.Printf("%s: committed %d, lag %d\n", tp, committed[tp].Offset, end[tp]-committed[tp].Offset)
	}
}

// Where does each partition of two topics stand: the oldest offset kept,
// the next offset to be written, and the first offset of the last hour.
// The partitions are named: take their count from the cluster metadata.
func ExampleList() {
	ctx := context.Background()
	var tps []offsets.TopicPartition
	for _, topic := range []string{"invoices", "refunds"} {
		for p := range int32(3) {
			tps = append(tps, offsets.TopicPartition{Topic: topic, Partition: p})
		}
	}
	earliest, err := offsets.List(ctx, client, tps, offsets.Earliest)
	if err != nil {
		log.Fatal(err)
	}
	latest, _ := offsets.List(ctx, client, tps, offsets.Latest)
	hourAgo, _ := offsets.List(ctx, client, tps, time.Now().Add(-time.Hour).UnixMilli())
	for _, tp := range tps {
		fmt.Printf("%s: %d messages kept, %d in the last hour\n", tp, latest[tp]-earliest[tp], latest[tp]-hourAgo[tp])
	}
}

// A consumer of several topics commits its positions every five seconds,
// and once more as it stops.
func ExampleStartAutoCommit() {
	g, _ := offsets.NewGroup(client, "billing", offsets.GroupOptions{})
	var mu sync.Mutex
	positions := map[offsets.TopicPartition]offsets.Commit{} // the consumer updates it as it goes
	snapshot := func() map[offsets.TopicPartition]offsets.Commit {
		mu.Lock()
		defer mu.Unlock()
		return maps.Clone(positions)
	}
	a := offsets.StartAutoCommit(g, 5*time.Second, snapshot, nil, func(err error) {
		log.Printf("auto-commit: %v", err)
	})

	// ... consume, setting positions[msg.TopicPartition] = offsets.At(msg.Offset+1) ...

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Stop(ctx); err != nil {
		log.Printf("final commit: %v", err)
	}
}
