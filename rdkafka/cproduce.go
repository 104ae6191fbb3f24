//go:build cgo && !nordkafka

package rdkafka

// The batched produce path's own cgo layer (issue 17): the engine creates
// the librdkafka instance of a non-transactional producer itself and talks
// to it in batches. confluent-kafka-go's Producer API costs, per message, a
// cgo crossing, an entry in its map of opaques, a *kafka.Message for the
// delivery report and a channel send from its poller goroutine; here one
// crossing hands librdkafka many messages (copied: RD_KAFKA_MSG_F_COPY, no
// Go pointer outlives the call), a message's opaque is an index into the
// engine's table of records, and delivery reports come a whole event at a
// time off the instance's main queue, copied out as (opaque, partition,
// offset, error) and nothing else.
//
// The declarations of librdkafka's C API are the engine's own (capi.h).

/*
#include <stdlib.h>
#include <string.h>

#include "capi.h"

// librdkafka's constants that the engine uses, by their documented values.
enum {
	GK_PRODUCER = 0,        // RD_KAFKA_PRODUCER
	GK_V_END = 0,           // RD_KAFKA_VTYPE_END ...
	GK_V_RKT = 2,
	GK_V_PARTITION = 3,
	GK_V_VALUE = 4,
	GK_V_KEY = 5,
	GK_V_OPAQUE = 6,
	GK_V_MSGFLAGS = 7,
	GK_V_TIMESTAMP = 8,
	GK_V_HEADERS = 10,
	GK_MSG_F_COPY = 0x2,    // RD_KAFKA_MSG_F_COPY
	GK_EVENT_DR = 0x1,      // RD_KAFKA_EVENT_DR
	GK_EVENT_LOG = 0x4,
	GK_EVENT_ERROR = 0x8,
	GK_EVENT_STATS = 0x40,
};

// One header of a message: where its name and value are in the
// message's header buffer (a value length of -1 is a null value).
typedef struct {
	int64_t name_off, name_len;
	int64_t val_off, val_len;
} gk_phdr;

// gk_produce hands librdkafka one message, copied (nothing of it is kept
// past the call); a NULL key or value is a null one. It returns
// librdkafka's refusal, 0 if it took the message.
static int gk_produce(gk_rk *rk, gk_rkt *rkt, int32_t partition, int64_t ts_ms, int64_t opaque,
		const void *key, size_t klen, const void *val, size_t vlen,
		const gk_phdr *hs, int hn, const char *hbuf) {
	void *op = (void *)(intptr_t)opaque;
	if (hn == 0)
		return rd_kafka_producev(rk, GK_V_RKT, rkt, GK_V_PARTITION, partition,
			GK_V_MSGFLAGS, GK_MSG_F_COPY, GK_V_VALUE, val, vlen, GK_V_KEY, key, klen,
			GK_V_OPAQUE, op, GK_V_TIMESTAMP, ts_ms, GK_V_END);
	gk_headers *h = rd_kafka_headers_new((size_t)hn);
	for (int j = 0; j < hn; j++)
		rd_kafka_header_add(h, hbuf + hs[j].name_off, (ssize_t)hs[j].name_len,
			hs[j].val_len < 0 ? NULL : hbuf + hs[j].val_off,
			hs[j].val_len < 0 ? 0 : (ssize_t)hs[j].val_len);
	int err = rd_kafka_producev(rk, GK_V_RKT, rkt, GK_V_PARTITION, partition,
		GK_V_MSGFLAGS, GK_MSG_F_COPY, GK_V_VALUE, val, vlen, GK_V_KEY, key, klen,
		GK_V_OPAQUE, op, GK_V_TIMESTAMP, ts_ms, GK_V_HEADERS, h, GK_V_END);
	if (err)
		rd_kafka_headers_destroy(h); // librdkafka owns them only on success
	return err;
}

// One delivery report, as the engine needs it.
typedef struct {
	int64_t opaque;
	int64_t offset;
	int32_t partition;
	int32_t err;
} gk_dr;

// gk_take_drs copies the reports of a delivery-report event into out
// (room for max; the event holds rd_kafka_event_message_count of them).
static int gk_take_drs(gk_event *ev, gk_dr *out, int max) {
	const gk_message *ms[256];
	int got = 0;
	while (got < max) {
		size_t want = (size_t)(max - got) < 256 ? (size_t)(max - got) : 256;
		size_t n = rd_kafka_event_message_array(ev, ms, want);
		if (n == 0)
			break;
		for (size_t i = 0; i < n; i++, got++) {
			out[got].opaque = (int64_t)(intptr_t)ms[i]->priv;
			out[got].offset = ms[i]->offset;
			out[got].partition = ms[i]->partition;
			out[got].err = ms[i]->err;
		}
	}
	return got;
}

// gk_metadata_origin asks for cluster metadata and returns the answering
// broker's node id (-1: a bootstrap broker), or -2 if no answer came.
static int32_t gk_metadata_origin(gk_rk *rk, int timeout_ms) {
	const gk_metadata *md = NULL;
	if (rd_kafka_metadata(rk, 0, NULL, &md, timeout_ms) != 0 || md == NULL)
		return -2;
	int32_t id = md->orig_broker_id;
	rd_kafka_metadata_destroy(md);
	return id;
}
*/
import "C"

import (
	"fmt"
	"sort"
	"sync"
	"unsafe"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/gokafka/kafka/internal/engine"
)

// cInstance is a librdkafka producer instance that the engine created
// through its own cgo layer, with its main queue (delivery reports, errors,
// statistics and logs arrive there as events) and its topic handles.
type cInstance struct {
	rk    *C.gk_rk
	q     *C.gk_queue
	name  string
	mu    sync.Mutex
	topic map[string]*C.gk_rkt
}

// newCInstance creates the instance from the engine's properties (the same
// ones confluent-kafka-go would get, less its own go.* ones).
func newCInstance(m kafka.ConfigMap) (*cInstance, error) {
	conf := C.rd_kafka_conf_new()
	errstr := (*C.char)(C.malloc(512))
	defer C.free(unsafe.Pointer(errstr))
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if len(k) > 3 && k[:3] == "go." {
			continue
		}
		v := fmt.Sprint(m[k])
		ck, cv := C.CString(k), C.CString(v)
		res := C.rd_kafka_conf_set(conf, ck, cv, errstr, 512)
		C.free(unsafe.Pointer(ck))
		C.free(unsafe.Pointer(cv))
		if res != 0 { // RD_KAFKA_CONF_OK
			C.rd_kafka_conf_destroy(conf)
			return nil, kafka.NewError(kafka.ErrInvalidArg, C.GoString(errstr), false)
		}
	}
	lq, lv := C.CString("log.queue"), C.CString("true")
	C.rd_kafka_conf_set(conf, lq, lv, errstr, 512)
	C.free(unsafe.Pointer(lq))
	C.free(unsafe.Pointer(lv))
	C.rd_kafka_conf_set_events(conf, C.GK_EVENT_DR|C.GK_EVENT_ERROR|C.GK_EVENT_STATS|C.GK_EVENT_LOG)
	rk := C.rd_kafka_new(C.GK_PRODUCER, conf, errstr, 512) // takes conf on success
	if rk == nil {
		C.rd_kafka_conf_destroy(conf)
		return nil, kafka.NewError(kafka.ErrInvalidArg, C.GoString(errstr), false)
	}
	c := &cInstance{rk: rk, q: C.rd_kafka_queue_get_main(rk), name: C.GoString(C.rd_kafka_name(rk)), topic: map[string]*C.gk_rkt{}}
	C.rd_kafka_set_log_queue(rk, c.q)
	return c, nil
}

// rkt is the topic handle of name, created on first use.
func (c *cInstance) rkt(name string) *C.gk_rkt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.topic[name]; ok {
		return t
	}
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	t := C.rd_kafka_topic_new(c.rk, cn, nil)
	c.topic[name] = t
	return t
}

// GetFatalError is librdkafka's fatal error, nil if there is none (the
// shape fatalError takes).
func (c *cInstance) GetFatalError() error {
	buf := (*C.char)(C.malloc(512))
	defer C.free(unsafe.Pointer(buf))
	code := C.rd_kafka_fatal_error(c.rk, buf, 512)
	if code == 0 {
		return nil
	}
	return kafka.NewError(kafka.ErrorCode(code), C.GoString(buf), true)
}

// flush is rd_kafka_flush: how many messages librdkafka still holds.
func (c *cInstance) flush(timeoutMs int) int { return int(C.rd_kafka_flush(c.rk, C.int(timeoutMs))) }

// purge fails every queued and in-flight message (their reports say
// _PURGE_QUEUE or _PURGE_INFLIGHT).
func (c *cInstance) purge() error {
	if code := C.rd_kafka_purge(c.rk, 0x1|0x2); code != 0 { // RD_KAFKA_PURGE_F_QUEUE|_INFLIGHT
		return kafka.NewError(kafka.ErrorCode(code), C.GoString(C.rd_kafka_err2str(code)), false)
	}
	return nil
}

// metadataOrigin asks for cluster metadata: the answering broker's id, -1
// for a bootstrap broker, -2 for no answer within timeoutMs.
func (c *cInstance) metadataOrigin(timeoutMs int) int32 {
	return int32(C.gk_metadata_origin(c.rk, C.int(timeoutMs)))
}

// wake makes a poll in progress return at once.
func (c *cInstance) wake() { C.rd_kafka_queue_yield(c.q) }

// destroy releases the topic handles, the queue and the instance. Nothing
// may use c afterwards.
func (c *cInstance) destroy() {
	for _, t := range c.topic {
		C.rd_kafka_topic_destroy(t)
	}
	C.rd_kafka_queue_destroy(c.q)
	C.rd_kafka_destroy(c.rk)
}

// produce hands librdkafka m, whose report will carry opaque. Key, value
// and headers are passed for the call only and copied by librdkafka.
func (c *cInstance) produce(rkt *C.gk_rkt, m *engine.Message, opaque int64) error {
	var ts C.int64_t
	if !m.Timestamp.IsZero() {
		ts = C.int64_t(m.Timestamp.UnixMilli())
	}
	var hs []C.gk_phdr
	var hbuf []byte
	if len(m.Headers) > 0 {
		hs = make([]C.gk_phdr, len(m.Headers))
		for i, h := range m.Headers {
			hs[i].name_off, hs[i].name_len = C.int64_t(len(hbuf)), C.int64_t(len(h.Key))
			hbuf = append(hbuf, h.Key...)
			hs[i].val_off, hs[i].val_len = C.int64_t(len(hbuf)), -1
			if h.Value != nil {
				hs[i].val_len = C.int64_t(len(h.Value))
				hbuf = append(hbuf, h.Value...)
			}
		}
		hbuf = append(hbuf, 0) // never empty: a valid base address
	}
	var hp *C.gk_phdr
	var hb *C.char
	if len(hs) > 0 {
		hp, hb = &hs[0], (*C.char)(unsafe.Pointer(&hbuf[0]))
	}
	code := C.gk_produce(c.rk, rkt, C.int32_t(m.Partition), ts, C.int64_t(opaque),
		bytesPtr(m.Key), C.size_t(len(m.Key)), bytesPtr(m.Value), C.size_t(len(m.Value)),
		hp, C.int(len(hs)), hb)
	if code != 0 {
		return kafka.NewError(kafka.ErrorCode(code), C.GoString(C.rd_kafka_err2str(code)), false)
	}
	return nil
}

// bytesPtr is p's address for C: nil for a nil slice (a null key or
// value), a valid address otherwise, even for an empty one.
func bytesPtr(p []byte) unsafe.Pointer {
	if p == nil {
		return nil
	}
	return unsafe.Pointer(unsafe.SliceData(p))
}

// cReport is one delivery report copied out of librdkafka.
type cReport = C.gk_dr

// cEvent is what one poll of the main queue gave.
type cEvent struct {
	reports []cReport // delivery reports (into the caller's buffer)
	err     error     // an error event (kafka.Error)
	log     *kafka.LogEvent
	stats   string
}

// poll waits up to timeoutMs for one event of the main queue and copies
// out what the engine needs; reports go into buf, grown as needed (the
// grown buffer is returned).
func (c *cInstance) poll(timeoutMs int, buf []cReport) (cEvent, []cReport, bool) {
	ev := C.rd_kafka_queue_poll(c.q, C.int(timeoutMs))
	if ev == nil {
		return cEvent{}, buf, false
	}
	defer C.rd_kafka_event_destroy(ev)
	var out cEvent
	switch C.rd_kafka_event_type(ev) {
	case C.GK_EVENT_DR:
		n := int(C.rd_kafka_event_message_count(ev))
		if cap(buf) < n {
			buf = make([]cReport, n)
		}
		buf = buf[:n]
		if n > 0 {
			got := int(C.gk_take_drs(ev, &buf[0], C.int(n)))
			buf = buf[:got]
		}
		out.reports = buf
	case C.GK_EVENT_ERROR:
		code := C.rd_kafka_event_error(ev)
		out.err = kafka.NewError(kafka.ErrorCode(code), C.GoString(C.rd_kafka_event_error_string(ev)), C.rd_kafka_event_error_is_fatal(ev) != 0)
		if C.rd_kafka_event_error_is_fatal(ev) != 0 {
			if fe := c.GetFatalError(); fe != nil {
				out.err = fe
			}
		}
	case C.GK_EVENT_LOG:
		var fac, str *C.char
		var level C.int
		if C.rd_kafka_event_log(ev, &fac, &str, &level) == 0 {
			out.log = &kafka.LogEvent{Name: c.name, Tag: C.GoString(fac), Message: C.GoString(str), Level: int(level)}
		}
	case C.GK_EVENT_STATS:
		out.stats = C.GoString(C.rd_kafka_event_stats(ev))
	}
	return out, buf, true
}
