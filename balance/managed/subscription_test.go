package managed

import (
	"errors"
	"regexp"
	"slices"
	"testing"

	"github.com/gokafka/kafka/balance"
	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/testhelp"
)

// Unit tests of what a member reads and what makes it rejoin, on metadata
// snapshots written by hand; no broker involved.

// patternMember is a member with sub, as newMember sets it up, without a
// cluster.
func patternMember(t *testing.T, sub balance.Subscription) *Member {
	t.Helper()
	cfg, err := Config{Group: "g", Subscription: sub}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	m := &Member{cfg: cfg, s: session{watch: map[string]int{}}}
	if sub.Pattern != nil {
		if m.pattern, err = balance.FullMatch(sub.Pattern); err != nil {
			t.Fatal(err)
		}
		m.s.matches = map[string]bool{}
	}
	return m
}

// TestSubscribedTopics: the listed topics (existing or not) and the topics
// whose whole name matches, sorted, without internal topics and without
// topics whose metadata is in error.
func TestSubscribedTopics(t *testing.T) {
	snap := testhelp.Snapshot(map[string]int{
		"events-1": 3, "events-2": 1, "events-2x": 1, "old-events-1": 1,
		"events-new": -1, "__consumer_offsets": 50, "listed": 2,
	})
	m := patternMember(t, balance.Subscription{
		Topics:  []string{"listed", "missing", "events-1"},
		Pattern: regexp.MustCompile(`events-\d|events-new|__consumer_offsets`),
	})
	want := []string{"events-1", "events-2", "listed", "missing"}
	if got := m.subscribedTopics(snap); !slices.Equal(got, want) {
		t.Fatalf("subscribedTopics = %v, want %v", got, want)
	}
	// Without a pattern: the list, whatever the metadata says.
	m = patternMember(t, balance.Subscription{Topics: []string{"b", "a"}})
	if got := m.subscribedTopics(snap); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("list only: %v", got)
	}
}

// TestSubscribedTopicsMemo: the remembered matches stay bounded as topics
// come and go.
func TestSubscribedTopicsMemo(t *testing.T) {
	m := patternMember(t, balance.Subscription{Pattern: regexp.MustCompile(`t.*`)})
	for i := range 50 {
		topics := map[string]int{}
		for j := range 10 {
			topics[string(rune('a'+j))+string(rune('0'+i%10))+string(rune('A'+i/10))] = 1
		}
		m.subscribedTopics(testhelp.Snapshot(topics))
		if len(m.s.matches) > 2*10+64+10 {
			t.Fatalf("after %d snapshots of 10 topics, %d names remembered", i+1, len(m.s.matches))
		}
	}
}

// TestFullMatch: Java's matches(): the whole name, whatever the pattern's
// form; a pattern that ends inside \Q...\E (valid: quoted to the end) does
// not swallow the anchors.
func TestFullMatch(t *testing.T) {
	for _, c := range []struct {
		pattern string
		match   []string
		not     []string
	}{
		{`a|b`, []string{"a", "b"}, []string{"ab", "xa"}},
		{`(?i)ev.*`, []string{"EVents", "ev"}, []string{"xev"}},
		{`t\Q.x`, []string{"t.x"}, []string{"tax", "t.xy", "t\\Q.x"}},
		{`t\Q.x|y`, []string{"t.x|y"}, []string{"y", "t.x"}},
		{`a$|b`, []string{"a", "b"}, []string{"ab"}},
	} {
		re, err := balance.FullMatch(regexp.MustCompile(c.pattern))
		if err != nil {
			t.Fatalf("%q: %v", c.pattern, err)
		}
		for _, s := range c.match {
			if !re.MatchString(s) {
				t.Errorf("%q does not match %q (as %s)", c.pattern, s, re)
			}
		}
		for _, s := range c.not {
			if re.MatchString(s) {
				t.Errorf("%q matches %q (as %s)", c.pattern, s, re)
			}
		}
	}
	// And Join takes such a pattern.
	if _, err := (Config{Group: "g", Subscription: balance.Subscription{Pattern: regexp.MustCompile(`t\Q.x`)}}).withDefaults(); err != nil {
		t.Errorf("withDefaults: %v", err)
	}
}

// TestMetadataChanged: a member rejoins when the pattern's topics change or
// a watched topic's partition count does (a deleted topic counting 0), not
// when a topic is in error for a moment.
func TestMetadataChanged(t *testing.T) {
	m := patternMember(t, balance.Subscription{Topics: []string{"listed"}, Pattern: regexp.MustCompile(`p-.*`)})
	base := map[string]int{"listed": 2, "p-1": 3, "other": 1}
	m.s.topics = m.subscribedTopics(testhelp.Snapshot(base))
	m.s.watch = map[string]int{"listed": 2, "p-1": 3, "leaders-only": 4}
	with := func(change map[string]int) *cluster.Snapshot {
		topics := map[string]int{"leaders-only": 4}
		for k, v := range base {
			topics[k] = v
		}
		for k, v := range change {
			if v == 0 {
				delete(topics, k)
			} else {
				topics[k] = v
			}
		}
		return testhelp.Snapshot(topics)
	}
	for _, c := range []struct {
		what   string
		change map[string]int
		rejoin bool
	}{
		{"nothing", nil, false},
		{"an unrelated topic created", map[string]int{"other-2": 1}, false},
		{"a matching topic created", map[string]int{"p-2": 1}, true},
		{"a matching topic being created (no leaders yet)", map[string]int{"p-2": -1}, false},
		{"a matching topic deleted", map[string]int{"p-1": 0}, true},
		{"a listed topic deleted", map[string]int{"listed": 0}, true},
		{"a listed topic in error", map[string]int{"listed": -1}, false},
		{"a listed topic grew", map[string]int{"listed": 3}, true},
		{"a topic another member reads grew", map[string]int{"leaders-only": 5}, true},
	} {
		why := m.metadataChanged(with(c.change))
		if (why != "") != c.rejoin {
			t.Errorf("%s: metadataChanged = %q, want a rejoin: %v", c.what, why, c.rejoin)
		}
	}
	if n, ok := partitionsOf(testhelp.Snapshot(map[string]int{"x": -1}), "x"); ok || n != 0 {
		t.Errorf("a topic in error: %d, %v", n, ok)
	}
	if _, err := testhelp.Snapshot(nil).Topic("gone"); !errors.Is(err, kerr.ErrUnknownTopic) {
		t.Fatalf("the snapshot of a missing topic: %v", err)
	}
	if n, ok := partitionsOf(testhelp.Snapshot(nil), "gone"); !ok || n != 0 {
		t.Errorf("a missing topic: %d, %v; want 0, true", n, ok)
	}
}
