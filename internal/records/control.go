package records

import (
	"encoding/binary"
	"strconv"
)

// ControlType is the type of a control record, read from its key.
type ControlType int16

// The control record types a consumer of ordinary topics meets. KRaft's
// metadata log uses further types (leader change, snapshot markers, ...).
const (
	ControlAbort  ControlType = 0 // the producer's transaction was aborted
	ControlCommit ControlType = 1 // the producer's transaction was committed
)

func (t ControlType) String() string {
	switch t {
	case ControlAbort:
		return "abort"
	case ControlCommit:
		return "commit"
	}
	return "control(" + strconv.Itoa(int(t)) + ")"
}

// ParseControlKey reads the key of a record from a Control batch: an
// int16 version (0) followed by an int16 type. A read_committed consumer
// uses it to find the abort markers of a producer's transactions (the
// marker's batch has the transaction's ProducerID). ok is false when the
// key is too short or of a version newer than 0, whose layout is unknown.
func ParseControlKey(key []byte) (t ControlType, ok bool) {
	if len(key) < 4 || binary.BigEndian.Uint16(key) != 0 {
		return 0, false
	}
	return ControlType(binary.BigEndian.Uint16(key[2:])), true
}
