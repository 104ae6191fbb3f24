package offsets_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"maps"
	"sync"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/offsets"
)

var cl *cluster.Cluster // the client's cluster view

// A consumer that assigns its own partitions commits what it processed
// (the next offset to read) and resumes from it after a restart.
func ExampleGroup_Commit() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	g, err := offsets.NewGroup(cl, "billing", offsets.GroupOptions{})
	if err != nil {
		log.Fatal(err)
	}
	lastProcessed := int64(41)
	err = g.Commit(ctx, "invoices", map[int32]offsets.Commit{0: offsets.At(lastProcessed + 1)}, offsets.Generation{})
	if err != nil {
		log.Fatal(err)
	}

	committed, err := g.Fetch(ctx, "invoices", []int32{0, 1})
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range []int32{0, 1} {
		if c, ok := committed[p]; ok {
			fmt.Printf("partition %d resumes at %d\n", p, c.Offset)
		} else {
			fmt.Printf("partition %d: nothing committed, apply the reset policy\n", p)
		}
	}
}

// A group member reacts to the errors that mean it lost its partitions.
func ExampleGroup_Commit_member() {
	ctx := context.Background()
	g, _ := offsets.NewGroup(cl, "billing", offsets.GroupOptions{})
	gen := offsets.Generation{ID: 12, MemberID: "consumer-1-8c6f..."} // from JoinGroup
	err := g.Commit(ctx, "invoices", map[int32]offsets.Commit{3: {Offset: 1000, LeaderEpoch: 5}}, gen)
	switch {
	case errors.Is(err, kerr.RebalanceInProgress), errors.Is(err, kerr.IllegalGeneration), errors.Is(err, kerr.UnknownMemberID):
		// Rejoin the group; do not retry the commit.
	case err != nil:
		for p, pe := range offsets.Partitions(err) {
			log.Printf("partition %d not committed: %v", p, pe.Err)
		}
	}
}

// Where does each partition of a topic stand: the oldest offset kept, the
// next offset to be written, and the first offset of the last hour.
func ExampleList() {
	ctx := context.Background()
	earliest, err := offsets.List(ctx, cl, "invoices", nil, offsets.Earliest)
	if err != nil {
		log.Fatal(err)
	}
	latest, _ := offsets.List(ctx, cl, "invoices", nil, offsets.Latest)
	hourAgo, _ := offsets.List(ctx, cl, "invoices", nil, time.Now().Add(-time.Hour).UnixMilli())
	for p := range earliest {
		fmt.Printf("partition %d: %d messages kept, %d in the last hour\n", p, latest[p]-earliest[p], latest[p]-hourAgo[p])
	}
}

// A consumer commits its positions every five seconds, and once more as it
// stops.
func ExampleStartAutoCommit() {
	g, _ := offsets.NewGroup(cl, "billing", offsets.GroupOptions{})
	var mu sync.Mutex
	positions := map[int32]offsets.Commit{} // the consumer updates it as it goes
	snapshot := func() map[int32]offsets.Commit {
		mu.Lock()
		defer mu.Unlock()
		return maps.Clone(positions)
	}
	a := offsets.StartAutoCommit(g, "invoices", 5*time.Second, snapshot, nil, func(err error) {
		log.Printf("auto-commit: %v", err)
	})

	// ... consume, setting positions[p] = offsets.At(msg.Offset+1) ...

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Stop(ctx); err != nil {
		log.Printf("final commit: %v", err)
	}
}
