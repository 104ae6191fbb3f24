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

// One message of a batch for gk_produce_batch: its key, value and
// headers' names and values are in the batch's bytes (a length of -1 is
// NULL), its headers in the batch's header array.
typedef struct {
	gk_rkt *rkt;
	int64_t opaque;
	int64_t ts_ms;
	int64_t key_off, key_len;
	int64_t val_off, val_len;
	int32_t hdr_first, hdr_cnt;
	int32_t partition;
	int32_t err; // out: librdkafka's refusal, 0 if it took the message
} gk_pmsg;

enum { GK_ERR_QUEUE_FULL = -184 }; // RD_KAFKA_RESP_ERR__QUEUE_FULL

// gk_produce_batch hands librdkafka ms[0..n) in order, each copied, and
// sets each one's err. It stops after a message that finds librdkafka's
// queue full, and returns how many messages it tried.
static int gk_produce_batch(gk_rk *rk, gk_pmsg *ms, int n, const gk_phdr *hs, const char *buf) {
	for (int i = 0; i < n; i++) {
		gk_pmsg *m = &ms[i];
		m->err = gk_produce(rk, m->rkt, m->partition, m->ts_ms, m->opaque,
			m->key_len < 0 ? NULL : buf + m->key_off, m->key_len < 0 ? 0 : (size_t)m->key_len,
			m->val_len < 0 ? NULL : buf + m->val_off, m->val_len < 0 ? 0 : (size_t)m->val_len,
			m->hdr_cnt > 0 ? hs + m->hdr_first : NULL, m->hdr_cnt, buf);
		if (m->err == GK_ERR_QUEUE_FULL)
			return i + 1;
	}
	return n;
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

// cBatch is the feeding goroutine's staging area in C memory, reused for
// every batch: the messages' descriptors, their headers, and their keys,
// values and header names and values, copied from Go. librdkafka copies
// them again (RD_KAFKA_MSG_F_COPY) during gk_produce_batch, so the area is
// free again when the call returns, and no Go pointer crosses.
type cBatch struct {
	ms  []C.gk_pmsg // len: room for maxBatchMsgs
	hs  []C.gk_phdr // grown as needed
	buf []byte      // grown as needed, up to the largest message
	n   int         // messages staged
	nh  int         // headers staged
	nb  int         // bytes staged
}

// maxBatchMsgs and batchBytes bound one batch: 1 024 messages, and 1 MiB
// of bytes unless one message needs more.
const (
	maxBatchMsgs = 1024
	batchBytes   = 1 << 20
)

func newCBatch() *cBatch {
	return &cBatch{ms: cSlice[C.gk_pmsg](maxBatchMsgs), buf: cSlice[byte](batchBytes)}
}

// cSlice is a slice of n Ts in C memory (free it with freeC).
func cSlice[T any](n int) []T {
	var t T
	return unsafe.Slice((*T)(C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof(t)))), n)
}

// freeC frees a slice made by cSlice.
func freeC[T any](s []T) {
	if cap(s) > 0 {
		C.free(unsafe.Pointer(unsafe.SliceData(s)))
	}
}

// free gives the C memory back.
func (b *cBatch) free() {
	freeC(b.ms)
	freeC(b.hs)
	freeC(b.buf)
	*b = cBatch{}
}

// stage adds m, whose report will carry opaque, unless the batch is full:
// maxBatchMsgs messages, or not enough room for m's bytes in a batch that
// has others (an empty batch grows for any message).
func (b *cBatch) stage(rkt *C.gk_rkt, m *engine.Message, opaque int64) bool {
	size := len(m.Key) + len(m.Value)
	for _, h := range m.Headers {
		size += len(h.Key) + len(h.Value)
	}
	if b.n == len(b.ms) || (b.n > 0 && b.nb+size > len(b.buf)) {
		return false
	}
	if size > len(b.buf) {
		freeC(b.buf)
		b.buf = cSlice[byte](size)
	}
	if need := b.nh + len(m.Headers); need > len(b.hs) {
		hs := cSlice[C.gk_phdr](max(need, 2*len(b.hs), 16))
		copy(hs, b.hs[:b.nh])
		freeC(b.hs)
		b.hs = hs
	}
	d := &b.ms[b.n]
	d.rkt, d.opaque, d.partition, d.err = rkt, C.int64_t(opaque), C.int32_t(m.Partition), 0
	d.ts_ms = 0
	if !m.Timestamp.IsZero() {
		d.ts_ms = C.int64_t(m.Timestamp.UnixMilli())
	}
	d.key_off, d.key_len = b.put(m.Key)
	d.val_off, d.val_len = b.put(m.Value)
	d.hdr_first, d.hdr_cnt = C.int32_t(b.nh), C.int32_t(len(m.Headers))
	for _, h := range m.Headers {
		hd := &b.hs[b.nh]
		hd.name_off, hd.name_len = C.int64_t(b.nb), C.int64_t(len(h.Key))
		b.nb += copy(b.buf[b.nb:], h.Key)
		hd.val_off, hd.val_len = b.put(h.Value)
		b.nh++
	}
	b.n++
	return true
}

// put copies p into the batch's bytes: its offset and length (-1 for nil).
func (b *cBatch) put(p []byte) (off, n C.int64_t) {
	if p == nil {
		return 0, -1
	}
	off = C.int64_t(b.nb)
	b.nb += copy(b.buf[b.nb:], p)
	return off, C.int64_t(len(p))
}

// produce hands librdkafka the staged messages, in order, in one
// crossing, and empties the batch. It returns how many it tried (it stops
// after one that found librdkafka's queue full) and each one's refusal
// (nil: taken), in errs (reused).
func (c *cInstance) produce(b *cBatch, errs []error) (int, []error) {
	var hs *C.gk_phdr
	if b.nh > 0 {
		hs = &b.hs[0]
	}
	tried := int(C.gk_produce_batch(c.rk, &b.ms[0], C.int(b.n), hs, (*C.char)(unsafe.Pointer(&b.buf[0]))))
	errs = errs[:0]
	for i := range tried {
		var err error
		if code := b.ms[i].err; code != 0 {
			err = kafka.NewError(kafka.ErrorCode(code), C.GoString(C.rd_kafka_err2str(C.int(code))), false)
		}
		errs = append(errs, err)
	}
	b.n, b.nh, b.nb = 0, 0, 0
	return tried, errs
}

// cReport is one delivery report copied out of librdkafka.
type cReport = C.gk_dr

// cRkt is a librdkafka topic handle of an instance.
type cRkt = C.gk_rkt

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
