package kafka

import (
	"cmp"
	"context"
	"slices"

	"github.com/gokafka/kafka/internal/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ClusterDescription is what DescribeCluster returns.
type ClusterDescription struct {
	ClusterID string
	// Controller is the broker the cluster names as its controller. In
	// KRaft mode the active controller is not a broker clients reach:
	// Kafka then names one of the live brokers, which forwards admin
	// requests to the controller.
	Controller int32
	Brokers    []Broker // ordered by id
}

// DescribeCluster asks the cluster (one Metadata request, to any broker)
// for its id, its controller and its live brokers.
func (c *Client) DescribeCluster(ctx context.Context) (*ClusterDescription, error) {
	resp, err := c.topicMetadata(ctx, []string{})
	if err != nil {
		return nil, err
	}
	d := &ClusterDescription{Controller: resp.ControllerID, ClusterID: deref(resp.ClusterID)}
	for _, b := range resp.Brokers {
		br := Broker{ID: b.NodeID, Host: b.Host, Port: b.Port, Rack: deref(b.Rack)}
		d.Brokers = append(d.Brokers, br)
	}
	slices.SortFunc(d.Brokers, func(a, b Broker) int { return cmp.Compare(a.ID, b.ID) })
	return d, nil
}

// APIVersion is the range of versions a broker supports of one request.
type APIVersion struct {
	Key      int16
	Name     string // Kafka's name: Produce, Fetch, ...
	Min, Max int16
}

// BrokerAPIVersions is what one broker supports.
type BrokerAPIVersions struct {
	Broker
	APIs []APIVersion // ordered by key
	Err  error
}

// APIVersions asks every live broker which requests, at which versions,
// it supports (ApiVersions). Results are ordered by broker id; a broker
// that cannot be reached fails alone.
func (c *Client) APIVersions(ctx context.Context) ([]BrokerAPIVersions, error) {
	brokers, err := c.liveBrokers(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]BrokerAPIVersions, len(brokers))
	err = eachItem("API versions of", len(brokers), func(i int) (string, error) {
		out[i].Broker = brokers[i]
		req := kmsg.NewPtrApiVersionsRequest()
		// v3+ needs a client name and version of [a-zA-Z0-9.-].
		req.ClientSoftwareName, req.ClientSoftwareVersion = "gokafka", "admin"
		resp, err := c.brokerRequest(ctx, brokers[i].ID, req)
		if err == nil {
			r := resp.(*kmsg.ApiVersionsResponse)
			if err = kerr.ForCode(r.ErrorCode); err == nil {
				for _, k := range r.ApiKeys {
					out[i].APIs = append(out[i].APIs, APIVersion{Key: k.ApiKey, Name: kmsg.NameForKey(k.ApiKey), Min: k.MinVersion, Max: k.MaxVersion})
				}
				slices.SortFunc(out[i].APIs, func(a, b APIVersion) int { return cmp.Compare(a.Key, b.Key) })
			}
		}
		out[i].Err = err
		return out[i].Addr(), err
	})
	return out, err
}
