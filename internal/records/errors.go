package records

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error this package returns from decoding is a
// *BatchError that matches exactly one of these with errors.Is.
var (
	// ErrCorrupt means the bytes are not a valid record batch: a bad CRC, a
	// length that points past the data, a malformed varint, an unknown
	// codec, compressed data that does not decompress, or records that do
	// not add up to the batch's declared count and size. Retrying the same
	// fetch returns the same bytes, so a consumer must stop or skip.
	ErrCorrupt = errors.New("kafka: records: corrupt record batch")

	// ErrUnsupportedMagic means a complete batch of another format version:
	// magic 0 or 1 (the pre-0.11 message sets, which Kafka 4 no longer
	// stores) or a future one. The batch's offset range is in the
	// *BatchError so that a consumer can report it and skip.
	ErrUnsupportedMagic = errors.New("kafka: records: unsupported record batch magic")

	// ErrTooLarge means a compressed batch decompresses to more than
	// DecodeOptions.MaxDecompressedBytes. The data may be valid (raise the
	// limit) or a decompression bomb.
	ErrTooLarge = errors.New("kafka: records: decompressed batch exceeds limit")

	// ErrEmptyBatch is returned by Builder.Finish when no record was
	// appended: Kafka rejects produced batches without records.
	ErrEmptyBatch = errors.New("kafka: records: batch has no records")
)

// BatchError describes a batch that could not be decoded.
//
// errors.Is(err, ErrCorrupt) (or ErrUnsupportedMagic, ErrTooLarge) matches
// it; when a codec library reported the failure, errors.Is and errors.As
// also reach that library's error through Cause.
type BatchError struct {
	Kind   error  // ErrCorrupt, ErrUnsupportedMagic or ErrTooLarge
	Pos    int    // byte position of the batch in the data given to Decode
	Offset int64  // the batch's base offset; -1 when too short to hold one
	Detail string // what exactly is wrong, for humans
	Cause  error  // the codec's error, if any
}

func (e *BatchError) Error() string {
	s := fmt.Sprintf("%v at byte %d", e.Kind, e.Pos)
	if e.Offset >= 0 {
		s += fmt.Sprintf(" (base offset %d)", e.Offset)
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Unwrap returns the sentinel kind and, if set, the codec's error.
func (e *BatchError) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Kind, e.Cause}
	}
	return []error{e.Kind}
}

// corruptf builds a detail-only ErrCorrupt; decode fills Pos and Offset in.
func corruptf(format string, args ...any) *BatchError {
	return &BatchError{Kind: ErrCorrupt, Offset: -1, Detail: fmt.Sprintf(format, args...)}
}
