package cluster

import (
	"fmt"

	"github.com/gokafka/kafka/internal/kerr"
)

// ValidTopicName applies Kafka's rule for topic names — 1 to 249
// characters from [a-zA-Z0-9._-], not "." or ".." — which also makes a name
// a valid ZooKeeper path element. The error matches kerr.ErrInvalidTopic.
// Every package that checks a topic name checks it here.
func ValidTopicName(name string) error {
	if name == "" || len(name) > 249 || name == "." || name == ".." {
		return fmt.Errorf("%w: %q (1 to 249 characters, not \".\" or \"..\")", kerr.ErrInvalidTopic, name)
	}
	for i := 0; i < len(name); i++ {
		ch := name[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '.' || ch == '_' || ch == '-') {
			return fmt.Errorf("%w: %q has the character %q (allowed: letters, digits, '.', '_', '-')", kerr.ErrInvalidTopic, name, ch)
		}
	}
	return nil
}
