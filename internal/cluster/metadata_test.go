package cluster

import "testing"

// TestSnapshotLeader: a leader is only one the fetchers can route to.
func TestSnapshotLeader(t *testing.T) {
	s := &Snapshot{
		Brokers: map[int32]BrokerMeta{1: {ID: 1}},
		Topics: map[string]*TopicMeta{
			"t": {Name: "t", Partitions: []PartitionMeta{
				{ID: 0, Leader: 1, LeaderEpoch: 7},
				{ID: 1, Leader: -1, LeaderEpoch: 3},
				{ID: 2, Leader: 2, LeaderEpoch: 4}, // a broker s does not list yet
			}},
		},
	}
	for _, c := range []struct {
		topic         string
		p             int32
		leader, epoch int32
	}{
		{"t", 0, 1, 7},
		{"t", 1, -1, -1},
		{"t", 2, -1, -1},
		{"t", 3, -1, -1},
		{"t", -1, -1, -1},
		{"other", 0, -1, -1},
	} {
		if leader, epoch := s.Leader(c.topic, c.p); leader != c.leader || epoch != c.epoch {
			t.Errorf("Leader(%s, %d) = %d, %d; want %d, %d", c.topic, c.p, leader, epoch, c.leader, c.epoch)
		}
	}
}
