package testhelp

import (
	"context"
	"testing"
	"time"
)

// CloseAtEnd closes what the test made (a group member, a consumer) when
// the test ends, allowing it within to close, and reports an error of the
// close as a failure of the test named after name: a member that cannot
// leave its group cleanly is a bug the test should show. The context is
// not the test's, which has ended by then.
func CloseAtEnd(t testing.TB, name string, within time.Duration, close func(context.Context) error) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), within)
		defer cancel()
		if err := close(ctx); err != nil {
			t.Errorf("Close %s: %v", name, err)
		}
	})
}
