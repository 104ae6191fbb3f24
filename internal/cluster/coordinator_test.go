package cluster

import (
	"errors"
	"testing"

	"github.com/gokafka/kafka/internal/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestParseFindCoordinator(t *testing.T) {
	old := kmsg.NewPtrFindCoordinatorResponse()
	old.Version = 3
	old.NodeID = 2
	if id, err := parseFindCoordinator(old, "g"); id != 2 || err != nil {
		t.Errorf("v3: %d, %v", id, err)
	}
	old.ErrorCode = kerr.CoordinatorNotAvailable.Code
	if _, err := parseFindCoordinator(old, "g"); !errors.Is(err, kerr.CoordinatorNotAvailable) {
		t.Errorf("v3 error: %v", err)
	}

	resp := kmsg.NewPtrFindCoordinatorResponse()
	resp.Version = 4
	other := kmsg.NewFindCoordinatorResponseCoordinator()
	other.Key, other.NodeID = "other", 1
	mine := kmsg.NewFindCoordinatorResponseCoordinator()
	mine.Key, mine.NodeID = "g", 3
	resp.Coordinators = []kmsg.FindCoordinatorResponseCoordinator{other, mine}
	if id, err := parseFindCoordinator(resp, "g"); id != 3 || err != nil {
		t.Errorf("v4: %d, %v; want 3", id, err)
	}
	resp.Coordinators = resp.Coordinators[:1]
	if _, err := parseFindCoordinator(resp, "g"); !errors.Is(err, kerr.ErrCorruptResponse) {
		t.Errorf("v4 without our key: %v, want ErrCorruptResponse", err)
	}
}
