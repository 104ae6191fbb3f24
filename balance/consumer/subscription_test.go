package consumer

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/gokafka/kafka/balance"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/testhelp"
)

// TestPattern: the broker matches the pattern against whole topic names;
// a matching topic created later is assigned, with no action of the
// member's; a topic whose name only contains a match is not.
func TestPattern(t *testing.T) {
	if !supported(t) {
		return
	}
	testhelp.NoLeaks(t)
	ctx := testhelp.Ctx(t, 3*time.Minute)
	base := testhelp.UniqueName(t, "topic")
	group := testhelp.UniqueName(t, "group")
	setGroupConfig(t, ctx, group)
	l := testhelp.NewLedger[TopicPartition]()
	testhelp.CreateNamedTopic(t, nil, base+"-a", 2)
	testhelp.CreateNamedTopic(t, nil, "x"+base+"-b", 2) // contains a match, is none
	cl := testhelp.NewCluster(t, nil)
	sub := balance.Subscription{Pattern: regexp.MustCompile(regexp.QuoteMeta(base) + `-.`)}
	ra, rb := newRecorder("a", l), newRecorder("b", l)
	a := joinSub(t, ctx, cl, group, sub, memberOpts{}, ra)
	b := joinSub(t, ctx, testhelp.NewCluster(t, nil), group, sub, memberOpts{}, rb)
	stablePoint(t, ctx, cl, group, allOf(2, base+"-a"), a, b)

	testhelp.CreateNamedTopic(t, nil, base+"-c", 2)
	took := time.Now()
	stablePoint(t, ctx, cl, group, allOf(2, base+"-a", base+"-c"), a, b)
	t.Logf("a topic created later was assigned %v later", time.Since(took).Round(time.Millisecond))
	l.Check(t)
}

// TestBadPattern: a pattern Go cannot compile never reaches the broker
// (kerr.ErrInvalidConfig); one that Go compiles and the broker's RE2J
// cannot (a Unicode script RE2J does not know) fails Join with
// kerr.InvalidRegularExpression, and the member stops.
func TestBadPattern(t *testing.T) {
	if !supported(t) {
		return
	}
	testhelp.NoLeaks(t)
	ctx := testhelp.Ctx(t, time.Minute)
	cl := testhelp.NewCluster(t, nil)
	l := testhelp.NewLedger[TopicPartition]()
	group := testhelp.UniqueName(t, "group")
	_, err := joinErr(t, ctx, cl, group, balance.Subscription{Pattern: regexp.MustCompile(`orders-\p{Adlam}+`)}, memberOpts{}, newRecorder("a", l))
	if !errors.Is(err, kerr.InvalidRegularExpression) || !errors.Is(err, kerr.ErrInvalidConfig) {
		t.Fatalf("a pattern RE2J refuses: want InvalidRegularExpression and ErrInvalidConfig, got %v", err)
	}
	t.Logf("refused: %v", err)
	_, err = joinErr(t, ctx, cl, group, balance.Subscription{Pattern: regexp.MustCompile(``)}, memberOpts{}, newRecorder("b", l))
	var ce *kerr.ConfigError
	if !errors.As(err, &ce) || ce.Field != "Config.Subscription.Pattern" {
		t.Fatalf("the empty pattern: want a ConfigError naming the pattern, got %v", err)
	}
}

// TestServerAssignors: with Range, two members reading two topics of the
// same partition count get the same partition numbers of each; a member
// asking for an assignor the broker lacks is refused.
func TestServerAssignors(t *testing.T) {
	if !supported(t) {
		return
	}
	const parts = 4
	topic, group, ctx, l := setup(t, parts, 2*time.Minute)
	other := testhelp.CreateTopic(t, nil, parts)
	cl := testhelp.NewCluster(t, nil)
	sub := balance.Subscription{Topics: []string{topic, other}}
	ra, rb := newRecorder("a", l), newRecorder("b", l)
	a := joinSub(t, ctx, cl, group, sub, memberOpts{assignor: Range}, ra)
	b := joinSub(t, ctx, testhelp.NewCluster(t, nil), group, sub, memberOpts{assignor: Range}, rb)
	owned := stablePoint(t, ctx, cl, group, allOf(parts, topic, other), a, b)
	for i, ps := range owned {
		var of, ot []int32
		for _, p := range ps {
			if p.Topic == topic {
				of = append(of, p.Partition)
			} else {
				ot = append(ot, p.Partition)
			}
		}
		if !slices.Equal(of, ot) || len(of) != parts/2 {
			t.Errorf("member %d: %s %v, %s %v: range gives the same numbers of co-partitioned topics", i, topic, of, other, ot)
		}
	}

	shortCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := joinErr(t, shortCtx, cl, testhelp.UniqueName(t, "group"), sub, memberOpts{assignor: "no-such-assignor"}, newRecorder("c", l))
	if !errors.Is(err, kerr.UnsupportedAssignor) {
		t.Fatalf("an unknown assignor: want UnsupportedAssignor, got %v", err)
	}
	l.Check(t)
}
