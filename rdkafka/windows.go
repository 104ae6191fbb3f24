//go:build cgo && !nordkafka

package rdkafka

import (
	"encoding/json"
	"log/slog"
	"slices"
	"time"

	"github.com/gokafka/kafka/internal/engine"
)

// Statistics: when the root listens (engine.ProducerConfig.Windows,
// engine.FetcherConfig.Windows), the producer and the fetcher turn
// librdkafka's statistics on (statistics.interval.ms, statsProps) and turn
// each emission's broker section into engine.BrokerWindows. The producer
// receives emissions as confluent-kafka-go events, the fetcher from its
// batch path (batch.go). The
// statistics are librdkafka's only account of its own connections: round
// trips and throttles come as windows (percentiles over the interval), not
// per request, which is why the rdkafka engine raises no per-request hooks.

// statsInterval is how often librdkafka emits statistics when someone
// listens.
const statsInterval = time.Second

// statsProps turns librdkafka's statistics on when w listens.
func statsProps(p *props, w engine.BrokerWindowObserver) {
	if w != nil {
		p.m["statistics.interval.ms"] = int(statsInterval / time.Millisecond)
	}
}

// rdWindow is the part of a broker's statistics (librdkafka's
// STATISTICS.md) that BrokerWindow carries. Round trips are in
// microseconds, throttles in milliseconds.
type rdWindow struct {
	NodeID      int32  `json:"nodeid"`
	NodeName    string `json:"nodename"`
	Source      string `json:"source"`
	State       string `json:"state"`
	OutbufCnt   int    `json:"outbuf_cnt"`
	WaitrespCnt int    `json:"waitresp_cnt"`
	Tx          uint64 `json:"tx"`
	TxBytes     uint64 `json:"txbytes"`
	TxErrs      uint64 `json:"txerrs"`
	Rx          uint64 `json:"rx"`
	RxBytes     uint64 `json:"rxbytes"`
	RxErrs      uint64 `json:"rxerrs"`
	Connects    uint64 `json:"connects"`
	Disconnects uint64 `json:"disconnects"`
	RTT         struct {
		P50 int64 `json:"p50"`
		P90 int64 `json:"p90"`
		P99 int64 `json:"p99"`
	} `json:"rtt"`
	Throttle struct {
		Max int64 `json:"max"`
	} `json:"throttle"`
}

// parseWindows reads the brokers of a statistics emission, those with a
// node id (not bootstrap addresses or logical brokers), by id.
func parseWindows(js string) ([]engine.BrokerWindow, error) {
	var st struct {
		Brokers map[string]rdWindow `json:"brokers"`
	}
	if err := json.Unmarshal([]byte(js), &st); err != nil {
		return nil, err
	}
	out := make([]engine.BrokerWindow, 0, len(st.Brokers))
	for _, b := range st.Brokers {
		if b.NodeID < 0 || b.Source == "logical" {
			continue
		}
		out = append(out, engine.BrokerWindow{
			Broker: b.NodeID, Addr: b.NodeName, Connected: b.State == "UP",
			InFlight: b.WaitrespCnt, Requests: b.Tx, Errors: b.TxErrs + b.RxErrs,
			BytesWritten: b.TxBytes, BytesRead: b.RxBytes,
			Connects: b.Connects, Disconnects: b.Disconnects,
			RTTP50:      time.Duration(b.RTT.P50) * time.Microsecond,
			RTTP90:      time.Duration(b.RTT.P90) * time.Microsecond,
			RTTP99:      time.Duration(b.RTT.P99) * time.Microsecond,
			ThrottleMax: time.Duration(b.Throttle.Max) * time.Millisecond,
		})
	}
	slices.SortFunc(out, func(a, b engine.BrokerWindow) int { return int(a.Broker - b.Broker) })
	return out, nil
}

// windows hands a statistics emission to the observer.
func (p *producer) windows(js string) {
	deliverWindows(p.cfg.Windows, p.log, js)
}

// deliverWindows hands a statistics emission to w, if it listens (nil:
// statistics.interval.ms was set through Raw, nobody listens).
func deliverWindows(w engine.BrokerWindowObserver, log *slog.Logger, js string) {
	if w == nil {
		return
	}
	ws, err := parseWindows(js)
	if err != nil {
		log.Warn("gokafka: librdkafka statistics unreadable", "err", err)
		return
	}
	w.BrokerWindows(ws)
}
