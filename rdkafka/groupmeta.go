//go:build cgo && !nordkafka

package rdkafka

// Offsets in a transaction carry the committing member's generation and
// member id (KIP-447), so that the group coordinator refuses a member that
// lost its partitions in a rebalance. librdkafka sends them (TxnOffsetCommit
// v3+) from a consumer group metadata object; confluent-kafka-go makes that
// object only from its own consumer (GetConsumerGroupMetadata) or from a
// group id alone (NewTestConsumerGroupMetadata, generation -1: no fencing).
// gokafka's group layer is Go, so the engine builds the object itself with
// librdkafka's public constructor that takes the generation and the member
// id, rd_kafka_consumer_group_metadata_new_with_genid, serializes it with
// rd_kafka_consumer_group_metadata_write, and hands the bytes to
// confluent-kafka-go, whose SendOffsetsToTransaction reads them back with
// rd_kafka_consumer_group_metadata_read (librdkafka documents the serialized
// form for exactly that round trip, within one process and one build of
// librdkafka, which is the case here: one librdkafka is linked in).
//
// The declarations below are the engine's own, written from librdkafka's
// documented C API (not its header); the symbols come from the librdkafka
// that confluent-kafka-go links into the program (bundled static library,
// or -tags dynamic). The structs are opaque here, as in librdkafka's API.

/*
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct gokafka_rd_cgmd gokafka_rd_cgmd;
typedef struct gokafka_rd_error gokafka_rd_error;

gokafka_rd_cgmd *rd_kafka_consumer_group_metadata_new_with_genid(
	const char *group_id, int32_t generation_id, const char *member_id,
	const char *group_instance_id);
void rd_kafka_consumer_group_metadata_destroy(gokafka_rd_cgmd *cgmd);
gokafka_rd_error *rd_kafka_consumer_group_metadata_write(
	const gokafka_rd_cgmd *cgmd, void **bufferp, size_t *sizep);
void rd_kafka_mem_free(void *rk, void *ptr);
const char *rd_kafka_error_string(const gokafka_rd_error *error);
void rd_kafka_error_destroy(gokafka_rd_error *error);
*/
import "C"

import (
	"fmt"
	"reflect"
	"sync"
	"unsafe"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
)

// serializedField is where confluent-kafka-go's ConsumerGroupMetadata keeps
// the serialized metadata: its only field, serialized []byte (v2.11.1).
// The field is unexported, so the engine checks the struct's shape once, by
// reflection, before it writes the field; if a later confluent-kafka-go
// changes the shape, SendOffsets fails with kerr.ErrUnsupported instead of
// writing blindly (and TestGroupMetadataLayout fails on the upgrade).
var serializedField = sync.OnceValues(func() (uintptr, error) {
	t := reflect.TypeFor[kafka.ConsumerGroupMetadata]()
	if t.NumField() != 1 {
		return 0, fmt.Errorf("%w: rdkafka: confluent-kafka-go's ConsumerGroupMetadata has %d fields, the engine knows the one-field shape of v2.11 (serialized []byte): offsets in a transaction cannot carry the group generation", kerr.ErrUnsupported, t.NumField())
	}
	f := t.Field(0)
	if f.Name != "serialized" || f.Type != reflect.TypeFor[[]byte]() {
		return 0, fmt.Errorf("%w: rdkafka: confluent-kafka-go's ConsumerGroupMetadata holds %s %s, the engine knows serialized []byte (v2.11): offsets in a transaction cannot carry the group generation", kerr.ErrUnsupported, f.Name, f.Type)
	}
	return f.Offset, nil
})

// groupMetadata is the consumer group metadata of c for
// SendOffsetsToTransaction: group id, generation, member id and instance id
// as the Go group layer has them.
func groupMetadata(c engine.GroupCommit) (*kafka.ConsumerGroupMetadata, error) {
	off, err := serializedField()
	if err != nil {
		return nil, err
	}
	// librdkafka's reader accepts printable ASCII only (it checks each
	// string with isprint), and C strings end at the first NUL.
	for _, s := range []struct{ what, v string }{{"group", c.Group}, {"member id", c.MemberID}, {"instance id", c.InstanceID}} {
		for i := 0; i < len(s.v); i++ {
			if b := s.v[i]; b < 0x20 || b > 0x7e {
				return nil, fmt.Errorf("%w: rdkafka: the %s %q has a byte outside printable ASCII, which librdkafka's group metadata cannot carry", kerr.ErrUnsupported, s.what, s.v)
			}
		}
	}
	group, member := C.CString(c.Group), C.CString(c.MemberID)
	defer C.free(unsafe.Pointer(group))
	defer C.free(unsafe.Pointer(member))
	var instance *C.char // NULL: no static membership
	if c.InstanceID != "" {
		instance = C.CString(c.InstanceID)
		defer C.free(unsafe.Pointer(instance))
	}
	md := C.rd_kafka_consumer_group_metadata_new_with_genid(group, C.int32_t(c.Generation), member, instance)
	if md == nil {
		return nil, fmt.Errorf("%w: rdkafka: librdkafka made no group metadata for group %q", kerr.ErrUnsupported, c.Group)
	}
	defer C.rd_kafka_consumer_group_metadata_destroy(md)
	var buf unsafe.Pointer
	var size C.size_t
	if e := C.rd_kafka_consumer_group_metadata_write(md, &buf, &size); e != nil {
		msg := C.GoString(C.rd_kafka_error_string(e))
		C.rd_kafka_error_destroy(e)
		return nil, fmt.Errorf("rdkafka: serializing the group metadata of %q: %s", c.Group, msg)
	}
	serialized := C.GoBytes(buf, C.int(size))
	C.rd_kafka_mem_free(nil, buf)
	out := new(kafka.ConsumerGroupMetadata)
	*(*[]byte)(unsafe.Add(unsafe.Pointer(out), off)) = serialized
	return out, nil
}
