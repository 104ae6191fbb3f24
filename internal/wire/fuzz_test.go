package wire_test

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/internal/wire"
	"github.com/gokafka/kafka/testhelp"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The seeds run in every go test; fuzz further with
//
//	go test -run '^$' -fuzz '^FuzzConnResponse$' -fuzztime 10m ./internal/wire/
//
// Property: whatever a peer answers, a Conn returns a response of the
// request's kind or an error that is one of gokafka's typed errors, within
// its deadline; it never panics or hangs.

// fuzzRequests are the requests the fuzzer sends, chosen by a byte: the ones
// gokafka's layers send, each decoded through its own response type.
var fuzzRequests = []func() kmsg.Request{
	func() kmsg.Request { return kmsg.NewPtrMetadataRequest() },
	func() kmsg.Request {
		r := kmsg.NewPtrFetchRequest()
		r.MaxWaitMillis = 0
		return r
	},
	func() kmsg.Request {
		r := kmsg.NewPtrProduceRequest()
		r.Acks = -1
		return r
	},
	func() kmsg.Request { return kmsg.NewPtrListOffsetsRequest() },
	func() kmsg.Request { return kmsg.NewPtrFindCoordinatorRequest() },
	func() kmsg.Request { return kmsg.NewPtrOffsetCommitRequest() },
	func() kmsg.Request { return kmsg.NewPtrOffsetFetchRequest() },
	func() kmsg.Request { return kmsg.NewPtrApiVersionsRequest() },
	func() kmsg.Request { return kmsg.NewPtrInitProducerIDRequest() },
	func() kmsg.Request { return kmsg.NewPtrHeartbeatRequest() },
	func() kmsg.Request { return kmsg.NewPtrCreateTopicsRequest() },
	func() kmsg.Request { return kmsg.NewPtrSASLHandshakeRequest() },
}

// How the fuzzed bytes reach the client (mode byte % fuzzModes).
const (
	modeBody      = iota // a correct size and correlation id, then the fuzzed bytes
	modeFrame            // a correct size, then the fuzzed bytes (correlation id included)
	modeStream           // the fuzzed bytes as the whole stream, then hang up
	modeHandshake        // the fuzzed bytes as the body of the ApiVersions answer during Dial
	fuzzModes
)

func FuzzConnResponse(f *testing.F) {
	// Seeds: valid responses of each kind at a few versions, and bad ones.
	for i, mk := range fuzzRequests {
		req := mk()
		for _, v := range []int16{0, req.MaxVersion() / 2, req.MaxVersion()} {
			resp := req.ResponseKind()
			resp.SetVersion(v)
			body := resp.AppendTo(nil)
			if resp.IsFlexible() && req.Key() != 18 {
				body = append([]byte{0}, body...)
			}
			f.Add(uint8(i), uint8(modeBody), uint8(v), body)
		}
	}
	md := kmsg.NewPtrMetadataResponse()
	md.SetVersion(12)
	t := kmsg.NewMetadataResponseTopic()
	t.Topic = kmsg.StringPtr("t")
	p := kmsg.NewMetadataResponseTopicPartition()
	p.Partition = 2147483647
	t.Partitions = append(t.Partitions, p)
	md.Topics = append(md.Topics, t)
	f.Add(uint8(0), uint8(modeBody), uint8(12), append([]byte{0}, md.AppendTo(nil)...))
	// An array length of 2^31-1 with nothing behind it.
	f.Add(uint8(0), uint8(modeBody), uint8(9), []byte{0, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff})
	f.Add(uint8(0), uint8(modeFrame), uint8(12), []byte{0, 0, 0, 99, 0})
	f.Add(uint8(0), uint8(modeFrame), uint8(12), []byte{0, 0})
	f.Add(uint8(0), uint8(modeStream), uint8(12), []byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
	f.Add(uint8(0), uint8(modeStream), uint8(12), []byte{0xff, 0xff, 0xff, 0xfe})
	f.Add(uint8(0), uint8(modeStream), uint8(12), []byte{0, 0, 0, 5, 0, 0, 0, 2, 0})
	f.Add(uint8(0), uint8(modeStream), uint8(12), []byte{0, 0, 0, 100, 0, 0, 0, 2})
	f.Add(uint8(0), uint8(modeHandshake), uint8(4), []byte{0, 35, 0, 0, 0, 0})
	f.Add(uint8(0), uint8(modeHandshake), uint8(4), []byte{0, 0, 2, 0, 3, 0, 0, 0, 12, 0, 0, 0, 0, 0})
	f.Add(uint8(0), uint8(modeHandshake), uint8(4), []byte{0, 0, 0, 0, 0, 1, 0, 18, 0, 0, 0xff, 0xfb})

	f.Fuzz(func(t *testing.T, which, mode, version uint8, data []byte) {
		mode %= fuzzModes
		req := fuzzRequests[int(which)%len(fuzzRequests)]()
		// The fuzzer picks the version the request goes out at, as a
		// broker advertising less would.
		capped := int16(version) % (req.MaxVersion() + 1)

		b := testhelp.NewFakeBroker(func(c *testhelp.FakeConn, r *testhelp.FakeRequest) bool {
			if r.Key == 18 && mode != modeHandshake && r.CorrID == 1 {
				return false // a good handshake
			}
			switch mode {
			case modeBody, modeHandshake:
				c.Write(testhelp.RawFrame(int32(4+len(data)), binary.BigEndian.AppendUint32(nil, uint32(r.CorrID))))
				c.Write(data)
			case modeFrame:
				c.Write(testhelp.RawFrame(int32(len(data)), data))
			case modeStream:
				c.Write(data)
				c.Close()
			}
			return true
		})
		defer b.Close()

		done := make(chan struct{})
		var err error
		var resp kmsg.Response
		go func() {
			defer close(done)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			opts := wire.Options{
				Dialer:         b.DialPipe,
				DialTimeout:    2 * time.Second,
				RequestTimeout: 2 * time.Second,
				MaxVersions:    map[int16]int16{req.Key(): capped},
			}
			var c *wire.Conn
			if c, err = wire.Dial(ctx, "fake:9092", opts); err != nil {
				return
			}
			defer c.Close()
			resp, err = c.Request(ctx, req)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("mode %d: no answer after 10s (request and dial timeouts are 2s)", mode)
		}
		if err == nil {
			if resp == nil || resp.Key() != req.Key() {
				t.Fatalf("no error and response %T for %s", resp, kmsg.NameForKey(req.Key()))
			}
			return
		}
		checkTyped(t, err)
	})
}

// checkTyped fails t unless err is one of the errors a Conn may return for
// bad input.
func checkTyped(t *testing.T, err error) {
	t.Helper()
	var ke *kerr.Error
	switch {
	case errors.Is(err, kerr.ErrCorruptResponse), errors.Is(err, kerr.ErrConnection),
		errors.Is(err, kerr.ErrUnsupportedVersion), errors.As(err, &ke):
	case errors.Is(err, kerr.ErrRequestTimeout), errors.Is(err, context.DeadlineExceeded):
		t.Fatalf("in-memory peer that answered at once: %v", err)
	default:
		t.Fatalf("untyped error: %v", err)
	}
}
