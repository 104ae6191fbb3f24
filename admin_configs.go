package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/gokafka/kafka/internal/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ConfigResourceType is the kind of thing a configuration belongs to, with
// Kafka's codes.
type ConfigResourceType int8

// The resources whose configuration DescribeConfigs and AlterConfigs read
// and change.
const (
	ConfigTopic        ConfigResourceType = 2  // a topic, by name
	ConfigBroker       ConfigResourceType = 4  // a broker, by id ("1"); "" is the default of every broker
	ConfigBrokerLogger ConfigResourceType = 8  // a broker's log4j loggers, by broker id
	ConfigGroup        ConfigResourceType = 32 // a consumer group, by id (Kafka 4.0+)
)

// String is Kafka's name: TOPIC, BROKER, BROKER_LOGGER, GROUP_CONFIG.
func (t ConfigResourceType) String() string { return kmsg.ConfigResourceType(t).String() }

// ConfigResource names a topic, a broker, a broker's loggers or a group.
type ConfigResource struct {
	Type ConfigResourceType
	Name string
}

func (r ConfigResource) String() string {
	switch r.Type {
	case ConfigTopic:
		return "topic " + r.Name
	case ConfigGroup:
		return "group " + r.Name
	case ConfigBroker, ConfigBrokerLogger:
		if r.Name == "" {
			return "every broker"
		}
		return "broker " + r.Name
	}
	return r.Type.String() + " " + r.Name
}

// ConfigSource says where a configuration value comes from, with Kafka's
// codes (DescribeConfigs).
type ConfigSource int8

// Where a value is set.
const (
	ConfigSourceUnknown              ConfigSource = 0
	ConfigSourceDynamicTopic         ConfigSource = 1 // set on the topic (kafka-configs --alter, CreateTopics)
	ConfigSourceDynamicBroker        ConfigSource = 2 // set on this broker at run time
	ConfigSourceDynamicDefaultBroker ConfigSource = 3 // set at run time for every broker
	ConfigSourceStaticBroker         ConfigSource = 4 // in the broker's server.properties
	ConfigSourceDefault              ConfigSource = 5 // Kafka's built-in default
	ConfigSourceDynamicBrokerLogger  ConfigSource = 6
	ConfigSourceClientMetrics        ConfigSource = 7
	ConfigSourceGroup                ConfigSource = 8 // set on the group
)

// String is Kafka's name: DYNAMIC_TOPIC_CONFIG, DEFAULT_CONFIG, ...
func (s ConfigSource) String() string { return kmsg.ConfigSource(s).String() }

// ConfigEntry is one configuration value of a resource.
type ConfigEntry struct {
	Name  string
	Value string // empty for a sensitive value, which the broker never sends
	// Source is where the value comes from.
	Source ConfigSource
	// IsDefault is true when the resource does not set the value itself:
	// it is inherited from the brokers' configuration or Kafka's built-in
	// default. (For a topic, any source but ConfigSourceDynamicTopic; for
	// a broker, ConfigSourceDefault and ConfigSourceDynamicDefaultBroker;
	// for a group, any source but ConfigSourceGroup.) Deleting a value
	// with AlterConfigs makes it a default again.
	IsDefault bool
	ReadOnly  bool
	Sensitive bool // passwords and keys: Value is empty
	// Synonyms are the values this one overrides, strongest first (the
	// entry itself first), as DescribeConfigs reports them.
	Synonyms []ConfigSynonym
}

// ConfigSynonym is a value that an entry overrides or inherits: a broker
// setting of the same meaning, under its own name.
type ConfigSynonym struct {
	Name   string
	Value  string
	Source ConfigSource
}

// ResourceConfig is the configuration of one resource of DescribeConfigs.
type ResourceConfig struct {
	ConfigResource
	Entries []ConfigEntry // in the broker's order (by name)
	Err     error
}

// isDefault is the rule of ConfigEntry.IsDefault.
func isDefault(t ConfigResourceType, s ConfigSource) bool {
	switch t {
	case ConfigTopic:
		return s != ConfigSourceDynamicTopic
	case ConfigGroup:
		return s != ConfigSourceGroup
	case ConfigBroker:
		return s == ConfigSourceDefault || s == ConfigSourceDynamicDefaultBroker
	}
	return s == ConfigSourceDefault
}

// DescribeConfigs returns the whole configuration of each resource,
// defaults included (see ConfigEntry.IsDefault), in the order given. Topic
// and group configurations are asked of any broker in one request, a
// broker's of that broker. A topic that does not exist fails alone with
// ErrUnknownTopic.
func (c *Client) DescribeConfigs(ctx context.Context, resources ...ConfigResource) ([]ResourceConfig, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	ie := itemErrors{op: "describe configs of"}
	out := make([]ResourceConfig, len(resources))
	// One request per destination: -1 for any broker, else a broker id.
	reqs := map[int32]*kmsg.DescribeConfigsRequest{}
	index := map[ConfigResource]int{}
	for i, r := range resources {
		out[i].ConfigResource = r
		dest, err := configDestination(r)
		if err != nil {
			out[i].Err = ie.add(r.String(), err)
			continue
		}
		index[r] = i
		req := reqs[dest]
		if req == nil {
			req = kmsg.NewPtrDescribeConfigsRequest()
			req.IncludeSynonyms = true
			reqs[dest] = req
		}
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceType(r.Type), r.Name
		req.Resources = append(req.Resources, rr)
	}
	var whole []error
	requestEach(ctx, reqs, c.configRequest, func(req *kmsg.DescribeConfigsRequest, resp kmsg.Response, err error) {
		if err != nil {
			whole = append(whole, err)
			for _, rr := range req.Resources {
				i := index[ConfigResource{Type: ConfigResourceType(rr.ResourceType), Name: rr.ResourceName}]
				out[i].Err = err
			}
			return
		}
		for _, rr := range resp.(*kmsg.DescribeConfigsResponse).Resources {
			r := ConfigResource{Type: ConfigResourceType(rr.ResourceType), Name: rr.ResourceName}
			i, ok := index[r]
			if !ok {
				continue
			}
			if err := configErr(r, rr.ErrorCode, rr.ErrorMessage); err != nil {
				out[i].Err = err
				continue
			}
			for _, e := range rr.Configs {
				ce := ConfigEntry{Name: e.Name, Value: deref(e.Value), Source: ConfigSource(e.Source), ReadOnly: e.ReadOnly, Sensitive: e.IsSensitive}
				ce.IsDefault = isDefault(r.Type, ce.Source)
				for _, s := range e.ConfigSynonyms {
					ce.Synonyms = append(ce.Synonyms, ConfigSynonym{Name: s.Name, Value: deref(s.Value), Source: ConfigSource(s.Source)})
				}
				out[i].Entries = append(out[i].Entries, ce)
			}
		}
	})
	if len(whole) == len(reqs) && len(whole) > 0 && len(index) == len(resources) {
		return nil, errors.Join(whole...)
	}
	for i, r := range out {
		if _, ok := index[r.ConfigResource]; ok {
			ie.add(r.String(), out[i].Err)
		}
	}
	return out, ie.err()
}

// configDestination is where a resource's configuration requests go: a
// broker's own resources to that broker, the rest (and the default of every
// broker) to any broker (-1).
func configDestination(r ConfigResource) (int32, error) {
	switch r.Type {
	case ConfigTopic:
		return -1, validTopicName(r.Name)
	case ConfigGroup:
		if r.Name == "" {
			return 0, fmt.Errorf("%w: empty group id", ErrNoGroup)
		}
		return -1, nil
	case ConfigBroker, ConfigBrokerLogger:
		if r.Name == "" && r.Type == ConfigBroker {
			return -1, nil
		}
		id, err := strconv.ParseInt(r.Name, 10, 32)
		if err != nil || id < 0 {
			return 0, kerr.Config("ConfigResource.Name", "%q is not a broker id", r.Name)
		}
		return int32(id), nil
	}
	return 0, kerr.Config("ConfigResource.Type", "unknown resource type %d", r.Type)
}

// configRequest sends a configs request to broker dest, or to any broker
// for -1.
func (c *Client) configRequest(ctx context.Context, dest int32, req kmsg.Request) (kmsg.Response, error) {
	if dest < 0 {
		return c.anyRequest(ctx, req)
	}
	return c.brokerRequest(ctx, dest, req)
}

// configErr is the error of one resource of a configs response: an unknown
// topic is ErrUnknownTopic, whatever the broker's code for it.
func configErr(r ConfigResource, code int16, msg *string) error {
	err := kerr.WithMessage(code, msg)
	if r.Type == ConfigTopic && errors.Is(err, kerr.UnknownTopicOrPartition) {
		return fmt.Errorf("%w: %q", ErrUnknownTopic, r.Name)
	}
	return err
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// ConfigOp is how AlterConfigs changes one value (IncrementalAlterConfigs).
type ConfigOp int8

// The changes AlterConfigs makes.
const (
	ConfigSet      ConfigOp = 0 // set the value
	ConfigDelete   ConfigOp = 1 // remove the value: it is the default again
	ConfigAppend   ConfigOp = 2 // add to a list value
	ConfigSubtract ConfigOp = 3 // remove from a list value
)

// String is "set", "delete", "append" or "subtract".
func (o ConfigOp) String() string {
	switch o {
	case ConfigSet:
		return "set"
	case ConfigDelete:
		return "delete"
	case ConfigAppend:
		return "append"
	case ConfigSubtract:
		return "subtract"
	}
	return "ConfigOp(" + strconv.Itoa(int(o)) + ")"
}

// ConfigChange is one change of AlterConfigs.
type ConfigChange struct {
	Name  string
	Op    ConfigOp
	Value string // ignored by ConfigDelete
}

// ConfigAlteration is the changes of one resource.
type ConfigAlteration struct {
	ConfigResource
	Changes []ConfigChange
}

// ConfigResult is the outcome of one resource of AlterConfigs.
type ConfigResult struct {
	ConfigResource
	Err error
}

// AlterConfigsOptions adjust AlterConfigs.
type AlterConfigsOptions struct {
	// ValidateOnly asks the brokers to check the changes without making
	// them.
	ValidateOnly bool
}

// AlterConfigs changes configurations incrementally
// (IncrementalAlterConfigs): only the values named change, each set,
// deleted (back to its default), appended to or subtracted from. Results
// are in the order given; a resource the broker refuses (an unknown topic,
// a value that is not valid: ErrInvalidConfigValue) fails alone. A topic's
// changes are visible on every broker (DescribeConfigs) when AlterConfigs
// returns.
func (c *Client) AlterConfigs(ctx context.Context, opts AlterConfigsOptions, alterations ...ConfigAlteration) ([]ConfigResult, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	ie := itemErrors{op: "alter configs of"}
	out := make([]ConfigResult, len(alterations))
	reqs := map[int32]*kmsg.IncrementalAlterConfigsRequest{}
	index := map[ConfigResource]int{}
	for i, a := range alterations {
		out[i].ConfigResource = a.ConfigResource
		dest, err := configDestination(a.ConfigResource)
		if err == nil {
			if _, dup := index[a.ConfigResource]; dup {
				err = kerr.Config("ConfigAlteration", "%s is given twice", a.ConfigResource)
			}
		}
		for _, ch := range a.Changes {
			if err == nil && (ch.Op < ConfigSet || ch.Op > ConfigSubtract) {
				err = kerr.Config("ConfigChange.Op", "unknown operation %d", ch.Op)
			}
		}
		if err != nil {
			out[i].Err = ie.add(a.String(), err)
			continue
		}
		index[a.ConfigResource] = i
		req := reqs[dest]
		if req == nil {
			req = kmsg.NewPtrIncrementalAlterConfigsRequest()
			req.ValidateOnly = opts.ValidateOnly
			reqs[dest] = req
		}
		rr := kmsg.NewIncrementalAlterConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceType(a.Type), a.Name
		for _, ch := range a.Changes {
			rc := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
			rc.Name, rc.Op = ch.Name, kmsg.IncrementalAlterConfigOp(ch.Op)
			if ch.Op != ConfigDelete {
				rc.Value = kmsg.StringPtr(ch.Value)
			}
			rr.Configs = append(rr.Configs, rc)
		}
		req.Resources = append(req.Resources, rr)
	}
	requestEach(ctx, reqs, c.configRequest, func(req *kmsg.IncrementalAlterConfigsRequest, resp kmsg.Response, err error) {
		for _, rr := range req.Resources {
			out[index[ConfigResource{Type: ConfigResourceType(rr.ResourceType), Name: rr.ResourceName}]].Err = err
		}
		if err != nil {
			return
		}
		for _, rr := range resp.(*kmsg.IncrementalAlterConfigsResponse).Resources {
			r := ConfigResource{Type: ConfigResourceType(rr.ResourceType), Name: rr.ResourceName}
			if i, ok := index[r]; ok {
				out[i].Err = configErr(r, rr.ErrorCode, rr.ErrorMessage)
			}
		}
	})
	if !opts.ValidateOnly {
		var done []ConfigAlteration
		for _, a := range alterations {
			if i, ok := index[a.ConfigResource]; ok && out[i].Err == nil && a.Type == ConfigTopic {
				done = append(done, a)
			}
		}
		if err := c.untilConfigsVisible(ctx, done); err != nil {
			for _, a := range done {
				out[index[a.ConfigResource]].Err = fmt.Errorf("altered, but not every broker shows it yet: %w", err)
			}
		}
	}
	for i, r := range out {
		if _, ok := index[r.ConfigResource]; ok {
			ie.add(r.String(), out[i].Err)
		}
	}
	return out, ie.err()
}

// untilConfigsVisible asks every broker for the altered topics' configs
// until each shows the values set and no longer sets the ones deleted:
// brokers learn of a change from the controller one by one, and a
// DescribeConfigs right after AlterConfigs must not read the old values.
func (c *Client) untilConfigsVisible(ctx context.Context, alts []ConfigAlteration) error {
	if len(alts) == 0 {
		return nil
	}
	req := kmsg.NewPtrDescribeConfigsRequest()
	for _, a := range alts {
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceType(a.Type), a.Name
		for _, ch := range a.Changes {
			rr.ConfigNames = append(rr.ConfigNames, ch.Name)
		}
		req.Resources = append(req.Resources, rr)
	}
	visible := func(resp *kmsg.DescribeConfigsResponse) bool {
		for i, rr := range resp.Resources {
			if i >= len(alts) || rr.ErrorCode != 0 {
				return false
			}
			got := map[string]kmsg.DescribeConfigsResponseResourceConfig{}
			for _, e := range rr.Configs {
				got[e.Name] = e
			}
			for _, ch := range alts[i].Changes {
				e, ok := got[ch.Name]
				switch {
				case ch.Op == ConfigSet && (!ok || deref(e.Value) != ch.Value):
					return false
				case ch.Op == ConfigDelete && ok && ConfigSource(e.Source) == ConfigSourceDynamicTopic:
					return false
				}
			}
		}
		return len(resp.Resources) == len(alts)
	}
	for attempt := 1; ; attempt++ {
		all := true
		for _, b := range c.Brokers() {
			resp, err := c.brokerRequest(ctx, b.ID, req)
			if err != nil || !visible(resp.(*kmsg.DescribeConfigsResponse)) {
				all = false
				break
			}
		}
		if all {
			return nil
		}
		if err := c.cluster.Sleep(ctx, c.cluster.Backoff(attempt)); err != nil {
			return err
		}
	}
}
