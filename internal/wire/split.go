package wire

import (
	"encoding/binary"
	"net"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Produce requests are written without copying their record batches.
//
// A producer's request is mostly record batches that the producer has
// already encoded in buffers of their own. Framing it with kmsg's AppendTo
// copies every batch into the connection's frame buffer, and the kernel
// then copies the frame buffer again: one memmove of every byte produced,
// and a frame buffer as large as the largest request. Instead the frame
// buffer gets everything but the large batches (the header, the topic and
// partition entries, each batch's length prefix), and the connection hands
// the kernel the frame buffer's pieces and the batches in their order, in
// one vectored write (writev), which copies each byte once.
//
// Only plain TCP connections write vectors (net.Buffers falls back to one
// write per piece on other connections, a TLS record each); and a batch
// smaller than splitMin is copied, as a separate piece would cost more
// than its copy.

// splitMin is the smallest batch written as a piece of its own.
const splitMin = 4 << 10

// maxSplitVersion is the last Produce version this file encodes; v13 names
// topics by id (KIP-516).
const maxSplitVersion = 12

// piece is a batch left out of the frame buffer: its bytes belong at offset
// at of the frame buffer, after the bytes before at.
type piece struct {
	at    int
	bytes []byte
}

// vectored reports whether nc writes net.Buffers with one system call.
func vectored(nc net.Conn) bool {
	_, ok := nc.(*net.TCPConn)
	return ok
}

// splittable reports whether appendProduceSplit can encode req: a version
// it knows, and no unknown tagged fields to carry.
func splittable(req *kmsg.ProduceRequest) bool {
	if req.Version < 3 || req.Version > maxSplitVersion || req.UnknownTags.Len() > 0 {
		return false
	}
	for i := range req.Topics {
		t := &req.Topics[i]
		if t.UnknownTags.Len() > 0 {
			return false
		}
		for j := range t.Partitions {
			if t.Partitions[j].UnknownTags.Len() > 0 {
				return false
			}
		}
	}
	return true
}

// appendProduceSplit frames req as appendRequest does, except that every
// batch of splitMin bytes or more is left out of dst and listed in pieces
// instead. The frame's size prefix counts the pieces. It encodes the same
// bytes as kmsg's ProduceRequest.AppendTo, versions 3 to maxSplitVersion
// (the test compares them).
func appendProduceSplit(dst []byte, pieces []piece, req *kmsg.ProduceRequest, corrID int32, clientID string) ([]byte, []piece) {
	start := len(dst)
	dst = appendHeader(dst, req, corrID, clientID)
	flexible := req.Version >= 9
	dst = appendNullableString(dst, req.TransactionID, flexible)
	dst = binary.BigEndian.AppendUint16(dst, uint16(req.Acks))
	dst = binary.BigEndian.AppendUint32(dst, uint32(req.TimeoutMillis))
	dst = appendLen(dst, len(req.Topics), flexible)
	left := 0
	for i := range req.Topics {
		t := &req.Topics[i]
		dst = appendString(dst, t.Topic, flexible)
		dst = appendLen(dst, len(t.Partitions), flexible)
		for j := range t.Partitions {
			p := &t.Partitions[j]
			dst = binary.BigEndian.AppendUint32(dst, uint32(p.Partition))
			switch {
			case p.Records == nil:
				dst = appendNullLen(dst, flexible)
			case len(p.Records) < splitMin:
				dst = append(appendLen(dst, len(p.Records), flexible), p.Records...)
			default:
				dst = appendLen(dst, len(p.Records), flexible)
				pieces = append(pieces, piece{at: len(dst), bytes: p.Records})
				left += len(p.Records)
			}
			if flexible {
				dst = append(dst, 0) // no tagged fields
			}
		}
		if flexible {
			dst = append(dst, 0)
		}
	}
	if flexible {
		dst = append(dst, 0)
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4+left))
	return dst, pieces
}

// vectors lists frame's pieces in the order they are written, in bufs.
func vectors(bufs net.Buffers, frame []byte, pieces []piece) net.Buffers {
	from := 0
	for _, p := range pieces {
		bufs = append(bufs, frame[from:p.at], p.bytes)
		from = p.at
	}
	return append(bufs, frame[from:])
}

// The encodings below are Kafka's primitive types
// (https://kafka.apache.org/protocol#protocol_types); flexible versions
// (KIP-482) use the compact forms, lengths as unsigned varints of length+1.

func appendLen(dst []byte, n int, flexible bool) []byte {
	if flexible {
		return binary.AppendUvarint(dst, uint64(n)+1)
	}
	return binary.BigEndian.AppendUint32(dst, uint32(n))
}

func appendNullLen(dst []byte, flexible bool) []byte {
	if flexible {
		return append(dst, 0)
	}
	return binary.BigEndian.AppendUint32(dst, 0xffffffff)
}

func appendString(dst []byte, s string, flexible bool) []byte {
	if flexible {
		dst = binary.AppendUvarint(dst, uint64(len(s))+1)
	} else {
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
	}
	return append(dst, s...)
}

func appendNullableString(dst []byte, s *string, flexible bool) []byte {
	switch {
	case s != nil:
		return appendString(dst, *s, flexible)
	case flexible:
		return append(dst, 0)
	default:
		return binary.BigEndian.AppendUint16(dst, 0xffff)
	}
}
