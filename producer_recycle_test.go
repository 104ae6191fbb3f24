package kafka_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/testhelp"
)

// A Message given to ProduceMessage, and its value, are the caller's again
// once OnDelivery has returned with its report (ProduceMessage's doc): a
// producer that recycles its Messages and their value buffers from
// OnDelivery must deliver every value intact, and under -race the engine
// must not touch a Message after its report (the next ProduceMessage call
// writes it from another goroutine).
func TestProduceMessageRecycledFromOnDelivery(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engineCase) {
		client := newClient(t)
		topic := newTopic(t, client, 3)
		ctx := testhelp.Ctx(t, 2*time.Minute)
		var (
			pool      sync.Pool
			allocated atomic.Int64
			delivered atomic.Int64
			failed    atomic.Value
		)
		pool.New = func() any { allocated.Add(1); return new(kafka.Message) }
		p, err := topic.NewProducer(kafka.ProducerConfig{
			UseRdkafka:        e.rdkafka,
			MaxQueuedMessages: 500, // a small queue: Messages come back while the loop runs
			OnDelivery: func(r kafka.DeliveryReport) {
				if r.Err != nil {
					failed.CompareAndSwap(nil, r.Err)
				}
				delivered.Add(1)
				// Keep the value's buffer for the next message; -7 is
				// what an engine writing after the report would change.
				*r.Message = kafka.Message{Offset: -7, Value: r.Message.Value[:0]}
				pool.Put(r.Message)
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		const n = 20000
		for i := range n {
			m := pool.Get().(*kafka.Message)
			if m.Offset != 0 && m.Offset != -7 {
				t.Fatalf("message %d: a recycled Message was changed after its report: %+v", i, m)
			}
			*m = kafka.Message{Value: fmt.Appendf(m.Value[:0], "v%06d", i)}
			if err := p.ProduceMessage(ctx, m); err != nil {
				t.Fatalf("ProduceMessage %d: %v", i, err)
			}
		}
		if err := p.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if err, _ := failed.Load().(error); err != nil {
			t.Fatalf("a delivery failed: %v", err)
		}
		if got := delivered.Load(); got != n {
			t.Fatalf("%d reports for %d messages", got, n)
		}
		// The point of recycling: far fewer Messages than were produced.
		// sync.Pool may drop some at a collection, so not exactly the
		// queue's size.
		if a := allocated.Load(); a >= n/2 {
			t.Errorf("%d Messages allocated for %d produced: they were not recycled", a, n)
		}

		c, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{ConsumerOptions: kafka.ConsumerOptions{UseRdkafka: e.rdkafka}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		got := byValue(t, consumeN(t, c, n))
		for i := range n {
			if _, ok := got[fmt.Sprintf("v%06d", i)]; !ok {
				t.Fatalf("value v%06d was not in the topic (%d distinct values read)", i, len(got))
			}
		}
	})
}

// orderHook records, per message (by its value), when OnRecordDelivered saw it.
type orderHook struct {
	seq *atomic.Int64
	at  *sync.Map // value -> sequence number
}

func (h orderHook) OnRecordDelivered(m *kafka.Message, _ error) {
	h.at.Store(string(m.Value), h.seq.Add(1))
}

// The delivered hook runs before every one of the producer's own reports
// (RecordDeliveredHook's doc), ProduceAsync's callback included: so the
// callback, run last, is where a Message handed to ProduceAsync is the
// caller's again.
func TestProduceAsyncCallbackAfterHookAndOnDelivery(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engineCase) {
		var seq atomic.Int64
		var hooked, onDelivery sync.Map
		client := newClient(t, kafka.WithHooks(orderHook{&seq, &hooked}))
		topic := newTopic(t, client, 3)
		ctx := testhelp.Ctx(t, 2*time.Minute)
		p, err := topic.NewProducer(kafka.ProducerConfig{
			UseRdkafka: e.rdkafka,
			OnDelivery: func(r kafka.DeliveryReport) { onDelivery.Store(string(r.Message.Value), seq.Add(1)) },
		})
		if err != nil {
			t.Fatal(err)
		}
		const n = 300
		type report struct {
			value string
			at    int64
			err   error
		}
		done := make(chan report, n)
		for i := range n {
			m := &kafka.Message{Value: fmt.Appendf(nil, "v%d", i)}
			if err := p.ProduceAsync(ctx, m, func(r kafka.DeliveryReport) {
				done <- report{string(r.Message.Value), seq.Add(1), r.Err}
			}); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.Close(ctx); err != nil {
			t.Fatal(err)
		}
		for range n {
			r := <-done
			if r.err != nil {
				t.Fatalf("%s: %v", r.value, r.err)
			}
			h, ok1 := hooked.Load(r.value)
			d, ok2 := onDelivery.Load(r.value)
			if !ok1 || !ok2 {
				t.Fatalf("%s: hook seen %v, OnDelivery seen %v", r.value, ok1, ok2)
			}
			if h.(int64) > d.(int64) || h.(int64) > r.at {
				t.Fatalf("%s: the delivered hook ran after OnDelivery or ProduceAsync's callback", r.value)
			}
			if d.(int64) > r.at {
				t.Fatalf("%s: ProduceAsync's callback ran before OnDelivery", r.value)
			}
		}
	})
}
