package produce

import (
	"context"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/engine"
)

// TestClockStamps: at a high rate the stamps come from the ticking clock;
// they stay within a few milliseconds of the system clock, and the ticker
// stops once messages stop.
func TestClockStamps(t *testing.T) {
	p := offlineProducer(benchConfig(), 1)
	defer func() {
		p.cancel()
		p.wg.Wait()
	}()
	ctx := context.Background()
	msgs := make([]engine.Message, 20000)
	ticked := false
	for i := range msgs {
		before := time.Now().Truncate(time.Millisecond)
		if err := p.Produce(ctx, &msgs[i], noopDone); err != nil {
			t.Fatal(err)
		}
		after := time.Now()
		ts := msgs[i].Timestamp
		if ts.After(after) || ts.Before(before.Add(-20*time.Millisecond)) {
			t.Fatalf("message %d stamped %v, called between %v and %v", i, ts, before, after)
		}
		ticked = ticked || p.clock.running.Load()
		if i%4096 == 4095 {
			p.drainOffline(false)
		}
	}
	if !ticked {
		t.Fatal("20000 messages in a row did not start the clock")
	}
	waitFor(t, "the idle clock to stop", func() bool { return !p.clock.running.Load() && p.clock.ms.Load() == 0 })
	p.drainOffline(true)
}
