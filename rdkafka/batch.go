//go:build cgo && !nordkafka

package rdkafka

// Fetched messages cross from librdkafka to Go a batch at a time.
//
// confluent-kafka-go's Consumer.Poll takes one message per call: a cgo
// crossing, a *kafka.Message, a copy of the key and of the value (C.GoBytes)
// and of every header, per message. The fetcher takes them instead with
// librdkafka's rd_kafka_consume_batch_queue, up to maxDrain at once (or
// batchBudget bytes), and
// copies every key, value and header of the batch into one Go buffer in a
// second crossing: two crossings and two allocations (the buffer and the
// descriptors) per batch, instead of several per message. Everything else
// (assignments, seeks, pauses, watermarks, the logs) stays
// confluent-kafka-go's, on the same librdkafka handle, which the fetcher
// reads from the Consumer (consumerHandle, a checked reflection, as
// groupmeta.go does for the group metadata).
//
// Errors and statistics that are not about one partition (an
// authentication failure, a TLS handshake refused, all brokers down, a
// statistics emission) are ops on librdkafka's main queue, which
// confluent-kafka-go forwards to the consumer queue
// (rd_kafka_poll_set_consumer). rd_kafka_consume_batch_queue serves such
// ops itself, in its callback mode: an error op goes to the error_cb, or
// without one is logged (facility ERROR, "[thrd:app]": the only trace of a
// wrong password while the batch path first ran), and a statistics op goes
// to the stats_cb, or is destroyed. confluent-kafka-go takes both as
// events and sets neither callback, and a configuration cannot be changed
// once confluent-kafka-go has built the instance from it, so the batcher
// installs its own error_cb (and stats_cb, when statistics are wanted) on
// the running instance's configuration (rd_kafka_conf, documented
// read-only: the fields written are read by librdkafka only where an
// application thread serves a queue). The callbacks run on the thread
// inside rd_kafka_consume_batch_queue; they keep what they are given in
// thread-local storage that gokafka_take empties before and hands over
// after the batch, so an op served on another thread (confluent-kafka-go's
// Close serves the queue too) is dropped there, never misattributed.
// Errors come back as fetched entries without a topic. Partition errors
// (offset out of range, authorization refused) and fatal errors are
// consumer ops and come in the batch itself, as messages with err set.
//
// (Taking the main queue back from the consumer queue and reading it as
// events instead, rd_kafka_queue_forward to NULL, brought the errors too,
// but then rd_kafka_destroy hung, a broker thread of the closing consumer
// never ending (gdb): in each of 4 runs of TestCompressionCodecs -race of
// up to 4 iterations, never in 2 runs of 4 iterations with the forwarding
// left alone. Why is not known.)
//
// The declarations of librdkafka's C API are the engine's own (capi.h);
// the helpers (gokafka_*) are this file's.

/*
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capi.h"

// GOKAFKA_MAX_ERRS bounds the errors kept from one batch (librdkafka
// reports a broker's identical failure once per 30 s).
enum { GOKAFKA_MAX_ERRS = 16, GOKAFKA_ERR_LEN = 512 };

// gokafka_events is what the callbacks were given during one batch.
typedef struct {
	int nerr;    // errors in errs
	int dropped; // errors beyond GOKAFKA_MAX_ERRS, not kept
	struct {
		int code;
		char str[GOKAFKA_ERR_LEN];
	} errs[GOKAFKA_MAX_ERRS];
	char *stats; // the last statistics emission (librdkafka's memory: rd_kafka_mem_free), or NULL
} gokafka_events;

// gokafka_tl is filled by the callbacks on the thread serving the queue,
// inside rd_kafka_consume_batch_queue.
static __thread gokafka_events gokafka_tl;

static void gokafka_error_cb(gk_rk *rk, int err, const char *reason, void *opaque) {
	if (gokafka_tl.nerr == GOKAFKA_MAX_ERRS) {
		gokafka_tl.dropped++;
		return;
	}
	gokafka_tl.errs[gokafka_tl.nerr].code = err;
	snprintf(gokafka_tl.errs[gokafka_tl.nerr].str, GOKAFKA_ERR_LEN, "%s", reason ? reason : "");
	gokafka_tl.nerr++;
}

static int gokafka_stats_cb(gk_rk *rk, char *json, size_t json_len, void *opaque) {
	if (gokafka_tl.stats)
		rd_kafka_mem_free(rk, gokafka_tl.stats); // an older emission of the same batch
	gokafka_tl.stats = json;
	return 1; // kept: freed by whoever takes it
}

// gokafka_callbacks_on installs the callbacks on a running instance; see
// the note on errors and statistics in batch.go.
static void gokafka_callbacks_on(gk_rk *rk, int want_stats) {
	gk_conf *conf = (gk_conf *)rd_kafka_conf(rk);
	rd_kafka_conf_set_error_cb(conf, gokafka_error_cb);
	if (want_stats)
		rd_kafka_conf_set_stats_cb(conf, gokafka_stats_cb);
}

// gokafka_tl_reset drops what another serving on this thread left.
static void gokafka_tl_reset(void) {
	if (gokafka_tl.stats)
		rd_kafka_mem_free(NULL, gokafka_tl.stats);
	gokafka_tl.stats = NULL;
	gokafka_tl.nerr = 0;
	gokafka_tl.dropped = 0;
}

// One message of a batch as Go reads it: offsets into the batch buffer,
// -1 lengths for NULL.
typedef struct {
	int64_t offset;
	int64_t ts;
	int32_t partition;
	int32_t err;
	int32_t tstype;
	int64_t topic_off, topic_len; // the topic name, copied once per run of one topic
	int64_t key_off, key_len;
	int64_t val_off, val_len;
	int64_t hdr_first, hdr_cnt; // into the header descriptors
} gokafka_desc;

typedef struct {
	int64_t key_off, key_len, val_off, val_len;
} gokafka_hdesc;

static size_t gokafka_len(const void *p, size_t n) { return p ? n : 0; }

// gokafka_take takes up to max messages: what is queued, or if nothing is,
// waits up to timeout_ms for one and then takes what followed it; in
// chunks of 64, until about budget bytes of keys and values are taken (a
// batch's buffer stays bounded whatever the message size). It adds up the
// bytes and headers that gokafka_fill will copy, keeps each message's
// header count in desc (so that fill asks librdkafka for the headers only
// of messages that have some), and hands what the callbacks were given
// meanwhile over to ev.
static ssize_t gokafka_take(gk_queue *q, int timeout_ms, gk_message **msgs, gokafka_desc *desc, size_t max,
			    size_t budget, size_t *bytes, size_t *hdrs, gokafka_events *ev) {
	ssize_t n = 0;
	gokafka_tl_reset();
	size_t taken = 0;
	if (timeout_ms != 0) {
		n = rd_kafka_consume_batch_queue(q, 0, msgs, 1);
		if (n == 0)
			n = rd_kafka_consume_batch_queue(q, timeout_ms, msgs, 1);
		if (n < 0)
			n = 0;
		if (n == 1)
			taken = gokafka_len(msgs[0]->payload, msgs[0]->len) + gokafka_len(msgs[0]->key, msgs[0]->key_len);
	}
	if (timeout_ms == 0 || n == 1) {
		while ((size_t)n < max && taken < budget) {
			size_t chunk = max - (size_t)n < 64 ? max - (size_t)n : 64;
			ssize_t m = rd_kafka_consume_batch_queue(q, 0, msgs + n, chunk);
			if (m <= 0)
				break;
			for (ssize_t i = n; i < n + m; i++)
				taken += gokafka_len(msgs[i]->payload, msgs[i]->len) + gokafka_len(msgs[i]->key, msgs[i]->key_len);
			n += m;
			if ((size_t)m < chunk)
				break;
		}
	}
	ev->nerr = gokafka_tl.nerr;
	ev->dropped = gokafka_tl.dropped;
	memcpy(ev->errs, gokafka_tl.errs, (size_t)gokafka_tl.nerr * sizeof(gokafka_tl.errs[0]));
	ev->stats = gokafka_tl.stats;
	gokafka_tl.stats = NULL;
	gokafka_tl.nerr = 0;
	*bytes = 0;
	*hdrs = 0;
	const gk_rkt *last = NULL;
	for (ssize_t i = 0; i < n; i++) {
		gk_message *m = msgs[i];
		*bytes += gokafka_len(m->payload, m->len) + gokafka_len(m->key, m->key_len);
		if (m->rkt && m->rkt != last) {
			*bytes += strlen(rd_kafka_topic_name(m->rkt));
			last = m->rkt;
		}
		desc[i].hdr_cnt = 0;
		gk_headers *h = NULL;
		if (m->err == 0 && rd_kafka_message_headers(m, &h) == 0 && h) {
			size_t c = rd_kafka_header_cnt(h);
			desc[i].hdr_cnt = (int64_t)c;
			*hdrs += c;
			for (size_t j = 0; j < c; j++) {
				const char *name; const void *val; size_t size;
				if (rd_kafka_header_get_all(h, j, &name, &val, &size) == 0)
					*bytes += strlen(name) + gokafka_len(val, size);
			}
		}
	}
	return n;
}

static int64_t gokafka_put(char *buf, size_t *at, const void *p, size_t n) {
	if (!p)
		return -1;
	memcpy(buf + *at, p, n);
	*at += n;
	return (int64_t)n;
}

// gokafka_fill describes and copies the n messages that gokafka_take took
// (and counted the headers of in desc) into desc, hdesc and buf (sized as
// it said), then destroys them.
static void gokafka_fill(gk_message **msgs, size_t n, gokafka_desc *desc, gokafka_hdesc *hdesc, char *buf) {
	size_t at = 0, h = 0;
	const gk_rkt *last = NULL;
	int64_t topic_off = 0, topic_len = 0;
	for (size_t i = 0; i < n; i++) {
		gk_message *m = msgs[i];
		gokafka_desc *d = &desc[i];
		d->offset = m->offset;
		d->partition = m->partition;
		d->err = m->err;
		d->tstype = 0;
		d->ts = m->err == 0 ? rd_kafka_message_timestamp(m, &d->tstype) : -1;
		if (m->rkt && m->rkt != last) {
			const char *t = rd_kafka_topic_name(m->rkt);
			topic_off = (int64_t)at;
			topic_len = gokafka_put(buf, &at, t, strlen(t));
			last = m->rkt;
		}
		d->topic_off = m->rkt ? topic_off : 0;
		d->topic_len = m->rkt ? topic_len : -1;
		d->key_off = (int64_t)at;
		d->key_len = gokafka_put(buf, &at, m->key, m->key_len);
		// For an error, the payload is librdkafka's error string.
		d->val_off = (int64_t)at;
		d->val_len = gokafka_put(buf, &at, m->payload, m->len);
		d->hdr_first = (int64_t)h;
		int has_headers = d->hdr_cnt > 0;
		d->hdr_cnt = 0;
		gk_headers *hs = NULL;
		if (has_headers && rd_kafka_message_headers(m, &hs) == 0 && hs) {
			size_t c = rd_kafka_header_cnt(hs);
			for (size_t j = 0; j < c; j++) {
				const char *name; const void *val; size_t size;
				if (rd_kafka_header_get_all(hs, j, &name, &val, &size) != 0)
					continue;
				gokafka_hdesc *x = &hdesc[h++];
				x->key_off = (int64_t)at;
				x->key_len = gokafka_put(buf, &at, name, strlen(name));
				x->val_off = (int64_t)at;
				x->val_len = gokafka_put(buf, &at, val, size);
				d->hdr_cnt++;
			}
		}
		rd_kafka_message_destroy(m);
		msgs[i] = NULL;
	}
}
*/
import "C"

import (
	"fmt"
	"reflect"
	"sync"
	"time"
	"unsafe"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/internal/records"
)

// batchBudget bounds the keys and values of one batch (and so the buffer
// that its messages keep alive), give or take 64 messages.
const batchBudget = 4 << 20

// rdErrFatal is librdkafka's RD_KAFKA_RESP_ERR__FATAL.
const rdErrFatal = -150

// handleRK is where confluent-kafka-go's Consumer keeps librdkafka's
// handle: its field handle, whose field rk (v2.11.1). Both are unexported,
// so the shape is checked once, by reflection, before it is read; should a
// later confluent-kafka-go change it, newFetcher fails with
// kerr.ErrUnsupported (and the tests fail) instead of reading blindly.
var handleRK = sync.OnceValues(func() (uintptr, error) {
	t := reflect.TypeFor[kafka.Consumer]()
	h, ok := t.FieldByName("handle")
	if !ok || h.Type.Kind() != reflect.Struct {
		return 0, fmt.Errorf("%w: rdkafka: confluent-kafka-go's Consumer has no handle struct (the engine knows v2.11's)", kerr.ErrUnsupported)
	}
	rk, ok := h.Type.FieldByName("rk")
	if !ok || rk.Type.Kind() != reflect.Pointer || rk.Type.Elem().Name() != "_Ctype_struct_rd_kafka_s" {
		return 0, fmt.Errorf("%w: rdkafka: confluent-kafka-go's Consumer handle has no rk *C.rd_kafka_t (the engine knows v2.11's)", kerr.ErrUnsupported)
	}
	return h.Offset + rk.Offset, nil
})

// consumerHandle is librdkafka's rd_kafka_t of c.
func consumerHandle(c *kafka.Consumer) (*C.gk_rk, error) {
	off, err := handleRK()
	if err != nil {
		return nil, err
	}
	rk := *(*unsafe.Pointer)(unsafe.Add(unsafe.Pointer(c), off))
	if rk == nil {
		return nil, fmt.Errorf("%w: rdkafka: the consumer has no librdkafka handle", kerr.ErrClosed)
	}
	return (*C.gk_rk)(rk), nil
}

// batcher takes fetched messages from a librdkafka consumer's queue a
// batch at a time. Not safe for concurrent use (its reader holds the
// instance's reading lock, fshared.go).
type batcher struct {
	rk   *C.gk_rk
	q    *C.gk_queue
	ev   *C.gokafka_events // what the callbacks were given during the last batch (C memory)
	msgs **C.gk_message    // C array of maxDrain pointers
	desc []C.gokafka_desc
	hdrs []C.gokafka_hdesc
	// topic is the last topic name seen: a batch's names are compared
	// with it, so that a run of one topic costs no string allocation.
	topic string
	// slab supplies the batch's Messages, filled in place by fill.
	slab engine.MessageSlab
}

// newBatcher makes a batcher for c and installs its callbacks (see the
// note on errors and statistics above); with stats, take returns
// librdkafka's statistics emissions too.
func newBatcher(c *kafka.Consumer, stats bool) (*batcher, error) {
	rk, err := consumerHandle(c)
	if err != nil {
		return nil, err
	}
	q := C.rd_kafka_queue_get_consumer(rk)
	if q == nil {
		return nil, fmt.Errorf("rdkafka: librdkafka has no consumer queue")
	}
	wantStats := C.int(0)
	if stats {
		wantStats = 1
	}
	C.gokafka_callbacks_on(rk, wantStats)
	return &batcher{
		rk:   rk,
		q:    q,
		ev:   (*C.gokafka_events)(C.calloc(1, C.size_t(unsafe.Sizeof(C.gokafka_events{})))),
		msgs: (**C.gk_message)(C.calloc(C.size_t(maxDrain), C.size_t(unsafe.Sizeof((*C.gk_message)(nil))))),
		desc: make([]C.gokafka_desc, maxDrain),
	}, nil
}

// wake makes a take in progress return (rd_kafka_queue_yield).
func (b *batcher) wake() { C.rd_kafka_queue_yield(b.q) }

// close gives the queue reference and the C memory back; before the
// consumer is closed.
func (b *batcher) close() {
	if b.q != nil {
		C.rd_kafka_queue_destroy(b.q)
		C.free(unsafe.Pointer(b.msgs))
		C.free(unsafe.Pointer(b.ev))
		b.q, b.msgs, b.ev = nil, nil, nil
	}
}

// fetched is one message or error of a batch, as the fetcher files it.
// It is small (a pointer and an error), so that the scratch slices of a
// batch cost little to fill, copy and clear: the message itself is built
// once, in its final place, by fill.
type fetched struct {
	// msg is the message (its Topic, Partition and Offset those of the
	// error, for a partition's error); nil for an error that is not
	// about a partition.
	msg *engine.Message
	err error // a kafka.Error
}

// size is the bytes of fe's key and value, which the inbox bounds.
func (fe *fetched) size() int {
	if fe.msg == nil {
		return 0
	}
	return len(fe.msg.Key) + len(fe.msg.Value)
}

// samePartition says whether a and b are about one partition.
func samePartition(a, b *engine.Message) bool {
	return a.Partition == b.Partition && a.Topic == b.Topic
}

// take waits up to wait for messages and returns them, each key, value and
// header a slice of one buffer for the whole batch, then the errors the
// error_cb was given meanwhile (entries without a message), and the last
// statistics emission ("" if none, or if the batcher wants none). The
// slice is reused by the next call.
func (b *batcher) take(wait time.Duration, out []fetched) ([]fetched, string) {
	msec := C.int(0)
	if wait > 0 {
		msec = C.int(max(1, wait/time.Millisecond))
	}
	var nbytes, nhdrs C.size_t
	n := int(C.gokafka_take(b.q, msec, b.msgs, &b.desc[0], C.size_t(maxDrain), C.size_t(batchBudget), &nbytes, &nhdrs, b.ev))
	out = b.fill(n, int(nbytes), int(nhdrs), out[:0])
	var stats string
	if b.ev.stats != nil {
		stats = C.GoString(b.ev.stats)
		C.rd_kafka_mem_free(unsafe.Pointer(b.rk), unsafe.Pointer(b.ev.stats))
		b.ev.stats = nil
	}
	for i := range int(b.ev.nerr) {
		e := &b.ev.errs[i]
		out = append(out, fetched{err: b.rdError(int(e.code), []byte(C.GoString(&e.str[0])))})
	}
	if b.ev.dropped > 0 {
		out = append(out, fetched{err: kafka.NewError(kafka.ErrFail, fmt.Sprintf("%d more librdkafka errors at once, not shown", b.ev.dropped), false)})
	}
	return out, stats
}

// fill copies the n messages gokafka_take took (nbytes of keys, values,
// header names and values and topics; nhdrs headers) into out.
func (b *batcher) fill(n, nbytes, nhdrs int, out []fetched) []fetched {
	if n <= 0 {
		return out
	}
	buf := make([]byte, max(nbytes, 1))
	if nhdrs > len(b.hdrs) {
		b.hdrs = make([]C.gokafka_hdesc, max(nhdrs, 2*len(b.hdrs)))
	}
	var hp *C.gokafka_hdesc
	if len(b.hdrs) > 0 {
		hp = &b.hdrs[0]
	}
	C.gokafka_fill(b.msgs, C.size_t(n), &b.desc[0], hp, (*C.char)(unsafe.Pointer(&buf[0])))
	for i := range n {
		d := &b.desc[i]
		if d.err != 0 {
			var m *engine.Message // nil: not about a partition
			if d.topic_len >= 0 {
				m = &engine.Message{Topic: b.topicOf(buf, d), Partition: int32(d.partition), Offset: int64(d.offset)}
			}
			out = append(out, fetched{msg: m, err: b.rdError(int(d.err), slice(buf, d.val_off, d.val_len))})
			continue
		}
		m := b.slab.Next(slabSize)
		m.Topic = b.topicOf(buf, d)
		m.Partition = int32(d.partition)
		m.Offset = int64(d.offset)
		m.Key = slice(buf, d.key_off, d.key_len)
		m.Value = slice(buf, d.val_off, d.val_len)
		if d.hdr_cnt > 0 {
			m.Headers = make([]records.Header, d.hdr_cnt)
			for j := range m.Headers {
				h := &b.hdrs[int(d.hdr_first)+j]
				m.Headers[j] = records.Header{Key: string(buf[h.key_off : h.key_off+h.key_len]), Value: slice(buf, h.val_off, h.val_len)}
			}
		}
		if d.tstype != 0 && d.ts >= 0 { // RD_KAFKA_TIMESTAMP_NOT_AVAILABLE is 0
			m.Timestamp = time.UnixMilli(int64(d.ts))
		}
		out = append(out, fetched{msg: m})
	}
	return out
}

// topicOf is the topic name of d ("" if it has none): the last one seen,
// if it is the same, so that a run of one topic allocates no string.
func (b *batcher) topicOf(buf []byte, d *C.gokafka_desc) string {
	if d.topic_len < 0 {
		return ""
	}
	name := buf[d.topic_off : d.topic_off+d.topic_len]
	if string(name) != b.topic { // no allocation to compare
		b.topic = string(name)
	}
	return b.topic
}

// slice is buf[off:off+n], nil for n < 0 (NULL in C), capped so that an
// append by the user cannot run into the next message.
func slice(buf []byte, off, n C.int64_t) []byte {
	if n < 0 {
		return nil
	}
	return buf[off : off+n : off+n]
}

// rdError is the kafka.Error of an error message, as confluent-kafka-go's
// Poll would have made it (a fatal error resolved to its cause).
func (b *batcher) rdError(code int, msg []byte) error {
	if code == rdErrFatal {
		var cs [512]C.char
		cause := C.rd_kafka_fatal_error(b.rk, &cs[0], C.size_t(len(cs)))
		return kafka.NewError(kafka.ErrorCode(cause), C.GoString(&cs[0]), true)
	}
	return kafka.NewError(kafka.ErrorCode(code), string(msg), false)
}
