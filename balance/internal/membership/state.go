// Package membership is what every group member of balance/ shares
// (balance/consumer, balance/managed, balance/share and
// balance/zookeeper): Join's checks of its arguments (Start; CheckGroup for
// the members of Kafka's consumer protocols), the member's logger
// (Logger), the brokers of its own lanes (LaneBrokers), and its run state
// (State): a member runs in goroutines of its own until Close asks it to
// stop or it stops by itself after an error retrying cannot fix, and the
// rules of Done, Err and Close are the same for all of them.
//
// A member makes a State with New, hands its Close, Done and Err to the
// State's, and its run goroutine (the owner of everything here but the
// channels) does this:
//
//	for {
//		select {
//		case <-life.Closing(): // Close was called: revoke, leave, using life.CloseCtx()
//			life.SetCloseErr(leaveErr)
//			return // a deferred life.Exit() marks the member done
//		...
//		}
//		// an error retrying cannot fix:
//		life.Fail(err)
//		return
//	}
//
// Close waits for Done or for its ctx, whichever comes first: when ctx ends
// first it calls the member's give-up function (which cancels the
// Handler's context, so that a Revoked in progress returns) and returns
// ctx's error; the goroutine ends soon after and closes Done.
package membership

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// State is one member's run state. Make it with New.
type State struct {
	onClose  func() // when Close starts (may be nil)
	onGiveUp func() // when Close's ctx ends before the member is done

	closeOnce sync.Once
	closing   chan struct{}   // closed when Close starts
	closeCtx  context.Context // Close's ctx, set before closing is closed

	firstOnce sync.Once
	first     chan struct{} // closed by Joined, or by Exit
	done      chan struct{} // closed by Exit

	lastErr atomic.Pointer[error] // Retried's, for AwaitJoin's message

	// Written by the run goroutine before Exit closes done.
	err      error // why the member stopped by itself
	closeErr error // what Close's work (revoke, leave) ran into
}

// New is the State of a member that runs. onClose, if not nil, is called
// once, when Close starts (to cancel the member's network waits at once);
// onGiveUp when the ctx of the first Close ends before the member is done
// (to cancel the Handler's context).
func New(onClose, onGiveUp func()) *State {
	return &State{
		onClose:  onClose,
		onGiveUp: onGiveUp,
		closing:  make(chan struct{}),
		first:    make(chan struct{}),
		done:     make(chan struct{}),
	}
}

// Done is closed when the member has stopped (Exit).
func (s *State) Done() <-chan struct{} { return s.done }

// Err is what Fail recorded once the member has stopped, nil while it runs
// or after a Close.
func (s *State) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

// Close asks the member to stop (closes Closing) and waits for Done or for
// ctx. It returns what SetCloseErr recorded, or ctx's error if ctx ends
// first. Idempotent: every call waits for the same shutdown (with its own
// ctx); the first call's ctx is the one CloseCtx returns.
func (s *State) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		s.closeCtx = ctx
		close(s.closing)
		if s.onClose != nil {
			s.onClose()
		}
		stop := context.AfterFunc(ctx, s.onGiveUp)
		go func() { // stop watching ctx once the member is gone
			<-s.done
			stop()
		}()
	})
	select {
	case <-s.done:
		return s.closeErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Closing is closed when Close starts.
func (s *State) Closing() <-chan struct{} { return s.closing }

// Stopping reports whether Close has started.
func (s *State) Stopping() bool {
	select {
	case <-s.closing:
		return true
	default:
		return false
	}
}

// CloseCtx is the first Close's ctx; only once Closing is closed.
func (s *State) CloseCtx() context.Context { return s.closeCtx }

// Fail records why the member stops by itself (Err). Run goroutine only,
// before Exit.
func (s *State) Fail(err error) { s.err = err }

// SetCloseErr records what Close's work ran into (Close's result). Run
// goroutine only, before Exit.
func (s *State) SetCloseErr(err error) { s.closeErr = err }

// CloseErr is what SetCloseErr recorded. Run goroutine only.
func (s *State) CloseErr() error { return s.closeErr }

// Joined marks the member's first assignment applied (AwaitJoin returns).
// Idempotent.
func (s *State) Joined() { s.firstOnce.Do(func() { close(s.first) }) }

// Exit marks the member stopped: Done closes (and a Join still waiting
// returns). It is the last thing the run goroutine does.
func (s *State) Exit() {
	// done before first: an AwaitJoin that sees first closed by a
	// failure then finds done closed too, and returns the error.
	close(s.done)
	s.Joined()
}

// Retried remembers an error the member is retrying, for AwaitJoin's
// message if ctx ends. Any goroutine.
func (s *State) Retried(err error) { s.lastErr.Store(&err) }

// AwaitJoin waits until Joined or Exit, or until ctx ends. It returns nil
// if the member joined (or stopped without an error), the error it
// stopped with, or, if ctx ends first, an error naming what ("<pkg>: join
// group <name>") with ctx's error and the last error Retried recorded,
// after closing the member with a ctx of its own bounded by leave, so
// that the group does not wait for a member that is gone.
func (s *State) AwaitJoin(ctx context.Context, what string, leave time.Duration) error {
	select {
	case <-s.first:
		select {
		case <-s.done:
			return s.err
		default:
			return nil
		}
	case <-ctx.Done():
		err := fmt.Errorf("%s: %w", what, ctx.Err())
		if last := s.lastErr.Load(); last != nil {
			err = fmt.Errorf("%w (last error: %w)", err, *last)
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), leave)
		defer cancel()
		s.Close(cctx)
		return err
	}
}
