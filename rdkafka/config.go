//go:build cgo && !nordkafka

package rdkafka

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/internal/records"
)

// props is a librdkafka configuration being built. It remembers which
// gokafka field each property came from, so that when librdkafka rejects a
// value the error names the field the user wrote, not a property they never
// saw.
type props struct {
	m      kafka.ConfigMap
	fields map[string]string // librdkafka property -> gokafka field
}

func newProps() *props {
	return &props{m: kafka.ConfigMap{}, fields: map[string]string{}}
}

// set sets a property to a string value (librdkafka parses every value from
// a string; confluent-kafka-go cannot pass floats, so we format ourselves).
// Properties are stored under librdkafka's canonical name: the map is
// applied in random order, so an alias and its canonical name must never
// both be present, and librdkafka's errors use the canonical name.
func (p *props) set(prop, field, value string) {
	prop = canonical(prop)
	p.m[prop] = value
	p.fields[prop] = field
}

// aliases maps librdkafka's alias names, the Java client's, to the
// canonical names, for the properties the engine sets.
var aliases = map[string]string{
	"linger.ms":                             "queue.buffering.max.ms",
	"acks":                                  "request.required.acks",
	"delivery.timeout.ms":                   "message.timeout.ms",
	"max.in.flight.requests.per.connection": "max.in.flight",
	"compression.type":                      "compression.codec",
	"max.partition.fetch.bytes":             "fetch.message.max.bytes",
	"metadata.broker.list":                  "bootstrap.servers",
	"sasl.mechanism":                        "sasl.mechanisms", // set by security.go
}

func canonical(prop string) string {
	if c, ok := aliases[prop]; ok {
		return c
	}
	return prop
}

// ms formats a duration as whole milliseconds, rounding up so that a
// positive duration never becomes 0 (which often means "disabled").
func ms(d time.Duration) string {
	n := (d + time.Millisecond - 1) / time.Millisecond
	return strconv.FormatInt(int64(n), 10)
}

// clamp bounds v to librdkafka's accepted range of a property.
func clamp(v, lo, hi int) string {
	return strconv.Itoa(min(max(v, lo), hi))
}

// The gokafka field names used in configuration errors. Balanced consumers
// embed ConsumerConfig, so its field names are the ones users know.
const (
	producerRaw = "ProducerConfig.RdkafkaConfig"
	consumerRaw = "ConsumerConfig.RdkafkaConfig"
)

// messageOverhead is added to MaxMessageBytes for librdkafka's own size
// check, which estimates the worst-case framing of a record (batch header
// and varint prefixes) where gokafka counts the encoded record only: a
// message gokafka accepts must not be refused by librdkafka.
const messageOverhead = 512

// producerProps maps a producer configuration onto librdkafka properties.
func producerProps(cl *cluster.Cluster, cfg engine.ProducerConfig) (*props, error) {
	p, err := clientProps(cl, cfg.ClientID, cfg.Security)
	if err != nil {
		return nil, err
	}
	switch cfg.Acks {
	case engine.RequireAll:
		p.set("acks", "ProducerConfig.Acks", "all")
	case engine.RequireLeader:
		p.set("acks", "ProducerConfig.Acks", "1")
	case engine.RequireNone:
		p.set("acks", "ProducerConfig.Acks", "0")
	default:
		return nil, kerr.Config("ProducerConfig.Acks", "unknown value %d", cfg.Acks)
	}
	p.set("enable.idempotence", "ProducerConfig.DisableIdempotence", strconv.FormatBool(cfg.Idempotent))
	// linger.ms is a float in librdkafka: sub-millisecond lingers survive.
	p.set("linger.ms", "ProducerConfig.Linger", strconv.FormatFloat(float64(cfg.Linger)/float64(time.Millisecond), 'f', -1, 64))
	p.set("batch.size", "ProducerConfig.BatchBytes", strconv.Itoa(cfg.BatchBytes))
	// librdkafka's message.max.bytes bounds both one message (estimated
	// with framing) and one request's batch; gokafka checks the message
	// itself in Produce, so here it only must not be the tighter limit.
	p.set("message.max.bytes", "ProducerConfig.MaxMessageBytes",
		clamp(max(cfg.MaxMessageBytes+messageOverhead, cfg.BatchBytes), 1000, 1000000000))
	p.set("queue.buffering.max.messages", "ProducerConfig.MaxQueuedMessages", strconv.Itoa(cfg.MaxQueued))
	statsProps(p, cfg.Windows) // windows.go
	if !cfg.Compression.Valid() {
		return nil, kerr.Config("ProducerConfig.Compression", "unknown codec %d", cfg.Compression)
	}
	p.set("compression.type", "ProducerConfig.Compression", cfg.Compression.String())
	if cfg.CompressionLevel != 0 && cfg.Compression != records.CodecNone {
		p.set("compression.level", "ProducerConfig.CompressionLevel", strconv.Itoa(cfg.CompressionLevel))
	}
	p.set("delivery.timeout.ms", "ProducerConfig.DeliveryTimeout", ms(cfg.DeliveryTimeout))
	p.set("request.timeout.ms", "ProducerConfig.RequestTimeout", ms(cfg.RequestTimeout))
	p.set("retry.backoff.ms", "ProducerConfig.RetryBackoff", ms(cfg.RetryBackoff))
	// gokafka's backoff doubles up to 1s, or RetryBackoff if larger;
	// librdkafka requires max >= base.
	p.set("retry.backoff.max.ms", "ProducerConfig.RetryBackoff", ms(max(time.Second, cfg.RetryBackoff)))
	p.set("max.in.flight.requests.per.connection", "ProducerConfig.MaxInFlight", strconv.Itoa(maxInFlight(cfg)))
	if cfg.TransactionalID != "" {
		if cfg.TransactionTimeout <= 0 {
			return nil, kerr.Config("ProducerConfig.TransactionTimeout", "must be positive with a TransactionalID (defaults not applied?)")
		}
		p.set("transactional.id", "ProducerConfig.TransactionalID", cfg.TransactionalID)
		p.set("transaction.timeout.ms", "ProducerConfig.TransactionTimeout", ms(cfg.TransactionTimeout))
		// librdkafka refuses a message.timeout.ms above the
		// transaction timeout: a message cannot outlive its
		// transaction, which the coordinator aborts by then.
		p.set("delivery.timeout.ms", "ProducerConfig.DeliveryTimeout", ms(min(cfg.DeliveryTimeout, cfg.TransactionTimeout)))
	}

	// The Go binding's own knobs. Delivery reports carry only the
	// Opaque back: the engine still holds the message, so copying key
	// and value out of C again would be waste.
	p.m["go.delivery.reports"] = true
	p.m["go.delivery.report.fields"] = "none"
	// The events channel is drained by one goroutine at once; its size
	// only smooths bursts (MaxQueued bounds the messages anyway).
	p.m["go.events.channel.size"] = min(cfg.MaxQueued, 1<<16)
	p.m["go.produce.channel.size"] = 0 // ProduceChannel is never used
	if err := p.applyRaw(cfg.Raw, producerRaw, producerReserved); err != nil {
		return nil, err
	}
	return p, nil
}

// maxInFlight is librdkafka's max.in.flight for a producer: MaxInFlight,
// except that an idempotent producer (transactional ones included) gets 1.
//
// librdkafka's idempotent producer sends a partition a new ProduceRequest
// only while fewer than five *messages* of it are in flight
// (rd_kafka_toppar_producer_serve compares rktp_msgs_inflight with the
// broker's window of five requests; librdkafka PR #4989, open, describes
// the one-request-at-a-time result), so more than one request per
// connection only ever lets requests of different partitions overlap. And
// with more than one allowed, a broker thread whose partitions have a
// batch ready but may not send it wakes up at once, again and again: it
// spins in poll() with a zero timeout until the acks come back. On this
// project's 2-core machine that loop took 0.7-1.0 ms of CPU per message
// at 1 000 msg/s (acks=all, linger 5 ms, 12 partitions: 40-60 % of a
// core, raw confluent-kafka-go alike) and half the CPU at full speed, and
// the brokers, starved of that core, acked later: the tail latency of the
// delivery reports. With one request per connection librdkafka's
// backpressure holds the ready batches without a wake-up: 0.09-0.12 ms
// per message at 1 000 msg/s, 4 µs instead of 9 at full speed, and no
// loss of throughput in the same runs (see doc.go, Performance). RdkafkaConfig can
// still set max.in.flight.
func maxInFlight(cfg engine.ProducerConfig) int {
	if cfg.Idempotent {
		return 1
	}
	return cfg.MaxInFlight
}

// producerReserved are the properties a producer's Raw may not set: whether
// the producer is transactional decides which interface the engine returns
// (engine.TxnProducer), so it follows ProducerConfig.TransactionalID only.
var producerReserved = map[string]string{
	"transactional.id": "use ProducerConfig.TransactionalID, which makes the producer transactional",
}

// consumerReserved are the properties that make the fetcher what the
// engine contract says it is; overriding them through Raw would let
// librdkafka commit, reset offsets on its own or swallow errors.
var consumerReserved = map[string]string{
	"group.id":                 "the fetcher never joins a group; use ConsumerConfig.ConsumerGroup, offsets are stored by gokafka",
	"group.instance.id":        "the fetcher never joins a group",
	"enable.auto.commit":       "offsets are committed by gokafka, never by librdkafka",
	"enable.auto.offset.store": "offsets are stored by gokafka, never by librdkafka",
	"auto.offset.reset":        "use ConsumerConfig.AutoOffsetReset; librdkafka must report out-of-range offsets to gokafka",
	"enable.partition.eof":     "the fetcher does not report partition ends",
}

// fetcherProps maps a fetcher configuration onto librdkafka properties: a
// consumer that only fetches, from partitions and offsets it is told.
func fetcherProps(cl *cluster.Cluster, cfg engine.FetcherConfig) (*props, error) {
	p, err := clientProps(cl, cfg.ClientID, cfg.Security)
	if err != nil {
		return nil, err
	}
	// confluent-kafka-go insists on a group.id. The fetcher never
	// subscribes (so never joins) and never commits, so the group is
	// never created on the broker; a random name makes sure it could
	// not collide with a real group even if it were.
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	p.m["group.id"] = "gokafka-rdkafka-fetcher-" + hex.EncodeToString(rnd[:])
	p.m["enable.auto.commit"] = false
	p.m["enable.auto.offset.store"] = false
	// Report out-of-range offsets instead of resetting: the root decides
	// (AutoOffsetReset) and must see the error.
	p.m["auto.offset.reset"] = "error"
	p.m["enable.partition.eof"] = false
	statsProps(p, cfg.Windows) // windows.go

	p.set("fetch.min.bytes", "ConsumerConfig.FetchMinBytes", clamp(int(cfg.MinBytes), 1, 100000000))
	// librdkafka wants fetch.max.bytes >= message.max.bytes once
	// fetch.max.bytes is set; message.max.bytes means nothing else to a
	// consumer (its requests are small), so it follows fetch.max.bytes.
	maxMsg := min(max(int(cfg.MaxBytes), 1000), 1000000)
	p.set("message.max.bytes", "ConsumerConfig.FetchMaxBytes", strconv.Itoa(maxMsg))
	p.set("fetch.max.bytes", "ConsumerConfig.FetchMaxBytes", clamp(max(int(cfg.MaxBytes), maxMsg), 0, 2147483135))
	p.set("max.partition.fetch.bytes", "ConsumerConfig.FetchPartitionMaxBytes", clamp(int(cfg.PartitionMaxBytes), 1, 1000000000))
	p.set("fetch.wait.max.ms", "ConsumerConfig.FetchMaxWait", ms(cfg.MaxWait))
	// queued.min.messages is librdkafka's per-partition prefetch target:
	// it stops fetching a partition with that many messages buffered.
	p.set("queued.min.messages", "ConsumerConfig.QueuedMaxMessages", clamp(cfg.QueuedMaxMessages, 1, 10000000))
	// Once a partition's queue is over that target (or over
	// queued.max.messages.kbytes) librdkafka postpones its next fetch by
	// fetch.queue.backoff.ms, 1 s by default: a fast reader then drains
	// the queue and waits out the second (with queues of 10 000 messages,
	// gokafka's default until 2026-12, at less than half of raw
	// confluent-kafka-go's throughput in bench/). The pure engine fetches
	// again as soon as the queue is under the bound; a few milliseconds
	// comes close to that.
	p.m["fetch.queue.backoff.ms"] = 5
	switch cfg.Isolation {
	case engine.ReadUncommitted:
		p.set("isolation.level", "ConsumerConfig.Isolation", "read_uncommitted")
	case engine.ReadCommitted:
		p.set("isolation.level", "ConsumerConfig.Isolation", "read_committed")
	default:
		return nil, kerr.Config("ConsumerConfig.Isolation", "unknown value %d", cfg.Isolation)
	}
	p.set("check.crcs", "ConsumerConfig.CheckCRCs", strconv.FormatBool(cfg.CheckCRC))
	if err := p.applyRaw(cfg.Raw, consumerRaw, consumerReserved); err != nil {
		return nil, err
	}
	return p, nil
}

// clientProps starts the properties of a producer or a fetcher with what
// both share: the brokers, the client's identity and its security.
func clientProps(cl *cluster.Cluster, clientID string, sec engine.Security) (*props, error) {
	p := newProps()
	servers, err := bootstrapServers(cl)
	if err != nil {
		return nil, err
	}
	p.set("bootstrap.servers", "Client hosts", servers)
	if clientID != "" {
		p.set("client.id", "Client client ID", clientID)
	}
	// Only an explicit Client.Topic call may create a topic, as in the
	// pure engine: with librdkafka's producer default (true) a topic
	// deleted under a producer would be auto-created again by its
	// metadata requests.
	p.m["allow.auto.create.topics"] = "false"
	// Brokers see which client connects (KIP-511).
	p.m["client.software.name"] = "gokafka-rdkafka"
	_, v := kafka.LibraryVersion()
	p.m["client.software.version"] = strings.Map(func(r rune) rune {
		// KIP-511 allows [a-zA-Z0-9.-] only.
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '-'
	}, v)
	// librdkafka logs through a queue that the engine forwards to the
	// client's slog.Logger, instead of writing to stderr.
	p.m["go.logs.channel.enable"] = true
	if err := p.security(sec); err != nil { // security.go
		return nil, err
	}
	return p, nil
}

// applyRaw applies the user's librdkafka properties last, so they override
// what the engine derived. Keys reserved by the engine are refused with the
// reason; values must be strings, booleans or numbers (as librdkafka's own
// configuration file would have them).
func (p *props) applyRaw(raw map[string]any, field string, reserved map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		fieldK := field + "[" + strconv.Quote(k) + "]"
		if strings.HasPrefix(k, "go.") {
			return kerr.Config(fieldK, "confluent-kafka-go's go.* settings are managed by the engine")
		}
		if why, ok := reserved[k]; ok {
			return kerr.Config(fieldK, "reserved: %s", why)
		}
		s, err := rawValue(raw[k])
		if err != nil {
			return kerr.Config(fieldK, "%v", err)
		}
		p.set(k, fieldK, s)
	}
	return nil
}

// rawValue formats a raw property value as librdkafka's string form.
func rawValue(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int:
		return strconv.Itoa(x), nil
	case int8, int16, int32, int64:
		return fmt.Sprint(x), nil
	case uint, uint8, uint16, uint32, uint64:
		return fmt.Sprint(x), nil
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "", fmt.Errorf("value %v is not a number librdkafka accepts", x)
		}
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case time.Duration:
		return "", fmt.Errorf("time.Duration %v: librdkafka properties take numbers (for example milliseconds for *.ms), not durations", x)
	}
	return "", fmt.Errorf("value of type %T: want a string, bool or number", v)
}

// propertyInError finds the property named in a librdkafka configuration
// error: `Invalid value "x" for configuration property "linger.ms"`,
// `No such configuration property: "foo"`, or finalisation checks that
// quote properties with backquotes.
var propertyInError = regexp.MustCompile("property:? \"([^\"]+)\"|`([a-z0-9._]+)`")

// configError turns librdkafka's refusal of a configuration into a
// *kerr.ConfigError naming the gokafka field the property came from.
func (p *props) configError(err error, rawField string) error {
	var ke kafka.Error
	if !errors.As(err, &ke) || ke.Code() != kafka.ErrInvalidArg {
		return mapError(err)
	}
	field := rawField
	if sm := propertyInError.FindStringSubmatch(ke.Error()); sm != nil {
		prop := sm[1] + sm[2]
		if f, ok := p.fields[prop]; ok {
			field = f
		}
	}
	return kerr.Config(field, "librdkafka refused the configuration: %s", ke.Error())
}

// bootstrapServers lists the brokers librdkafka starts from: every broker
// in the client's current metadata (where the cluster says they are), then
// the client's own bootstrap list, without duplicates.
func bootstrapServers(cl *cluster.Cluster) (string, error) {
	if cl == nil {
		return "", kerr.Config("Client hosts", "no cluster")
	}
	snap := cl.Snapshot()
	ids := make([]int32, 0, len(snap.Brokers))
	for id := range snap.Brokers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var addrs []string
	for _, id := range ids {
		addrs = append(addrs, snap.Brokers[id].Addr())
	}
	for _, a := range cl.Bootstrap() {
		if !slices.Contains(addrs, a) {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		return "", kerr.ErrNoBrokers
	}
	return strings.Join(addrs, ","), nil
}
