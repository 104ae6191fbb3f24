package kafka

import (
	"context"
	"fmt"
	"strings"

	"github.com/gokafka/kafka/internal/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ACLs
//
// An ACL allows or denies a principal ("User:alice") an operation (Read,
// Write, Describe, ...) on a resource (a topic, a group, the cluster, a
// transactional id), from a host ("*" for any). Kafka checks them only
// when the brokers run an authorizer (KRaft's StandardAuthorizer:
// authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer).
// A principal without the right gets a *BrokerError for which
// IsAuthorization is true (ErrTopicAuthorization, ErrGroupAuthorization,
// ErrClusterAuthorization, ...) from produce, consume, commit and admin
// calls alike; the clients do not retry it.

// ACLResourceType is the kind of resource an ACL is about, with Kafka's
// codes.
type ACLResourceType int8

// Resource types. ACLAnyResource matches any in filters.
const (
	ACLAnyResource     ACLResourceType = 1
	ACLTopic           ACLResourceType = 2
	ACLGroup           ACLResourceType = 3
	ACLCluster         ACLResourceType = 4 // name "kafka-cluster"
	ACLTransactionalID ACLResourceType = 5
	ACLDelegationToken ACLResourceType = 6
	ACLUser            ACLResourceType = 7
)

// String is Kafka's name: TOPIC, GROUP, CLUSTER, ...
func (t ACLResourceType) String() string { return kmsg.ACLResourceType(t).String() }

// ACLPattern is how an ACL's resource name matches.
type ACLPattern int8

// Patterns. In filters, ACLPatternAny matches any pattern and
// ACLPatternMatch every ACL that applies to the name (literal, prefixed or
// the wildcard "*").
const (
	ACLPatternAny      ACLPattern = 1
	ACLPatternMatch    ACLPattern = 2
	ACLPatternLiteral  ACLPattern = 3 // the name itself ("*": every resource)
	ACLPatternPrefixed ACLPattern = 4 // every name that starts with it
)

// String is Kafka's name: LITERAL, PREFIXED, ...
func (p ACLPattern) String() string { return kmsg.ACLResourcePatternType(p).String() }

// ACLOperation is what an ACL allows or denies.
type ACLOperation int8

// Operations. ACLOpAny matches any in filters; ACLOpAll is every operation.
const (
	ACLOpAny             ACLOperation = 1
	ACLOpAll             ACLOperation = 2
	ACLOpRead            ACLOperation = 3
	ACLOpWrite           ACLOperation = 4
	ACLOpCreate          ACLOperation = 5
	ACLOpDelete          ACLOperation = 6
	ACLOpAlter           ACLOperation = 7
	ACLOpDescribe        ACLOperation = 8
	ACLOpClusterAction   ACLOperation = 9
	ACLOpDescribeConfigs ACLOperation = 10
	ACLOpAlterConfigs    ACLOperation = 11
	ACLOpIdempotentWrite ACLOperation = 12
)

// String is Kafka's name: READ, WRITE, DESCRIBE_CONFIGS, ...
func (o ACLOperation) String() string { return kmsg.ACLOperation(o).String() }

// ACLPermission is whether an ACL allows or denies.
type ACLPermission int8

// Permissions. ACLPermissionAny matches both in filters.
const (
	ACLPermissionAny ACLPermission = 1
	ACLDeny          ACLPermission = 2
	ACLAllow         ACLPermission = 3
)

// String is ALLOW, DENY or ANY.
func (p ACLPermission) String() string { return kmsg.ACLPermissionType(p).String() }

// ParseACLResourceType, ParseACLPattern, ParseACLOperation and
// ParseACLPermission read Kafka's names, in any case, with '-', '_' or
// '.' ignored ("transactional-id", "DESCRIBE_CONFIGS", "allow").
func ParseACLResourceType(s string) (ACLResourceType, error) {
	if strings.EqualFold(strings.NewReplacer("-", "", "_", "", ".", "").Replace(s), "transactionalid") {
		return ACLTransactionalID, nil // kmsg 1.15.1 parses it as 7
	}
	v, err := kmsg.ParseACLResourceType(s)
	return ACLResourceType(v), parseErr("resource type", s, err)
}

// ParseACLPattern reads LITERAL, PREFIXED, MATCH or ANY.
func ParseACLPattern(s string) (ACLPattern, error) {
	v, err := kmsg.ParseACLResourcePatternType(s)
	return ACLPattern(v), parseErr("pattern type", s, err)
}

// ParseACLOperation reads READ, WRITE, ALL, DESCRIBE_CONFIGS, ...
func ParseACLOperation(s string) (ACLOperation, error) {
	v, err := kmsg.ParseACLOperation(s)
	return ACLOperation(v), parseErr("operation", s, err)
}

// ParseACLPermission reads ALLOW, DENY or ANY.
func ParseACLPermission(s string) (ACLPermission, error) {
	v, err := kmsg.ParseACLPermissionType(s)
	return ACLPermission(v), parseErr("permission", s, err)
}

func parseErr(what, s string, err error) error {
	if err != nil {
		return kerr.Config("ACL", "unknown %s %q", what, s)
	}
	return nil
}

// ACL is one access rule; as a filter (DescribeACLs, DeleteACLs), its zero
// fields match anything.
type ACL struct {
	ResourceType ACLResourceType
	ResourceName string
	Pattern      ACLPattern // zero: literal (in CreateACLs), any (in filters)
	Principal    string     // "User:alice"
	Host         string     // zero: "*" (in CreateACLs), any (in filters)
	Operation    ACLOperation
	Permission   ACLPermission // zero: allow (in CreateACLs), any (in filters)
}

// String is "ALLOW User:alice READ TOPIC:orders (LITERAL) from *"; a
// filter's zero fields print as ANY or *.
func (a ACL) String() string {
	perm, rt, pat, op := a.Permission.String(), a.ResourceType.String(), a.Pattern.String(), a.Operation.String()
	for _, s := range []*string{&perm, &rt, &pat, &op} {
		if *s == "UNKNOWN" {
			*s = "ANY"
		}
	}
	return fmt.Sprintf("%s %s %s %s:%s (%s) from %s", perm, orAny(a.Principal), op, rt, orAny(a.ResourceName), pat, orAny(a.Host))
}

func orAny(s string) string {
	if s == "" {
		return "*"
	}
	return s
}

// ACLResult is the outcome of one ACL of CreateACLs.
type ACLResult struct {
	ACL
	Err error
}

// CreateACLs creates ACLs (CreateACLs, forwarded to the controller).
// Results are in the order given; an ACL the cluster refuses fails alone.
// Without an authorizer on the brokers every ACL fails with
// SECURITY_DISABLED.
func (c *Client) CreateACLs(ctx context.Context, acls ...ACL) ([]ACLResult, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	ie := itemErrors{op: "create ACL"}
	out := make([]ACLResult, len(acls))
	req := kmsg.NewPtrCreateACLsRequest()
	for i, a := range acls {
		if a.Pattern == 0 {
			a.Pattern = ACLPatternLiteral
		}
		if a.Host == "" {
			a.Host = "*"
		}
		if a.Permission == 0 {
			a.Permission = ACLAllow
		}
		out[i].ACL = a
		rc := kmsg.NewCreateACLsRequestCreation()
		rc.ResourceType, rc.ResourceName, rc.ResourcePatternType = kmsg.ACLResourceType(a.ResourceType), a.ResourceName, kmsg.ACLResourcePatternType(a.Pattern)
		rc.Principal, rc.Host = a.Principal, a.Host
		rc.Operation, rc.PermissionType = kmsg.ACLOperation(a.Operation), kmsg.ACLPermissionType(a.Permission)
		req.Creations = append(req.Creations, rc)
	}
	if len(acls) == 0 {
		return out, nil
	}
	resp, err := c.anyRequest(ctx, req)
	if err != nil {
		return nil, err
	}
	results := resp.(*kmsg.CreateACLsResponse).Results
	for i := range out {
		if i >= len(results) {
			out[i].Err = fmt.Errorf("%w: ACL missing from the CreateACLs response", ErrCorruptResponse)
		} else {
			out[i].Err = kerr.WithMessage(results[i].ErrorCode, results[i].ErrorMessage)
		}
		ie.add(out[i].ACL.String(), out[i].Err)
	}
	return out, ie.err()
}

// aclFilter fills the wildcards of a filter.
func aclFilter(f ACL) (rt kmsg.ACLResourceType, name *string, pt kmsg.ACLResourcePatternType, principal, host *string, op kmsg.ACLOperation, perm kmsg.ACLPermissionType) {
	rt, pt, op, perm = kmsg.ACLResourceType(f.ResourceType), kmsg.ACLResourcePatternType(f.Pattern), kmsg.ACLOperation(f.Operation), kmsg.ACLPermissionType(f.Permission)
	if rt == 0 {
		rt = kmsg.ACLResourceTypeAny
	}
	if pt == 0 {
		pt = kmsg.ACLResourcePatternTypeAny
	}
	if op == 0 {
		op = kmsg.ACLOperationAny
	}
	if perm == 0 {
		perm = kmsg.ACLPermissionTypeAny
	}
	if f.ResourceName != "" {
		name = kmsg.StringPtr(f.ResourceName)
	}
	if f.Principal != "" {
		principal = kmsg.StringPtr(f.Principal)
	}
	if f.Host != "" {
		host = kmsg.StringPtr(f.Host)
	}
	return
}

// DescribeACLs returns the ACLs that match filter (the zero ACL matches
// every ACL).
func (c *Client) DescribeACLs(ctx context.Context, filter ACL) ([]ACL, error) {
	req := kmsg.NewPtrDescribeACLsRequest()
	req.ResourceType, req.ResourceName, req.ResourcePatternType, req.Principal, req.Host, req.Operation, req.PermissionType = aclFilter(filter)
	resp, err := c.anyRequest(ctx, req)
	if err != nil {
		return nil, err
	}
	r := resp.(*kmsg.DescribeACLsResponse)
	if err := kerr.WithMessage(r.ErrorCode, r.ErrorMessage); err != nil {
		return nil, fmt.Errorf("kafka: describe ACLs: %w", err)
	}
	var out []ACL
	for _, res := range r.Resources {
		for _, a := range res.ACLs {
			out = append(out, ACL{
				ResourceType: ACLResourceType(res.ResourceType), ResourceName: res.ResourceName, Pattern: ACLPattern(res.ResourcePatternType),
				Principal: a.Principal, Host: a.Host, Operation: ACLOperation(a.Operation), Permission: ACLPermission(a.PermissionType),
			})
		}
	}
	return out, nil
}

// ACLDeleteResult is the outcome of one filter of DeleteACLs.
type ACLDeleteResult struct {
	Filter  ACL
	Deleted []ACL // the ACLs the filter matched and that were deleted
	Err     error
}

// DeleteACLs deletes every ACL that matches each filter, and returns what
// each matched, in the order given. The filters of one call are matched
// against the ACLs as they were before it: an ACL that two filters match
// is reported by both.
func (c *Client) DeleteACLs(ctx context.Context, filters ...ACL) ([]ACLDeleteResult, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	ie := itemErrors{op: "delete ACLs matching"}
	out := make([]ACLDeleteResult, len(filters))
	req := kmsg.NewPtrDeleteACLsRequest()
	for i, f := range filters {
		out[i].Filter = f
		rf := kmsg.NewDeleteACLsRequestFilter()
		rf.ResourceType, rf.ResourceName, rf.ResourcePatternType, rf.Principal, rf.Host, rf.Operation, rf.PermissionType = aclFilter(f)
		req.Filters = append(req.Filters, rf)
	}
	if len(filters) == 0 {
		return out, nil
	}
	resp, err := c.anyRequest(ctx, req)
	if err != nil {
		return nil, err
	}
	results := resp.(*kmsg.DeleteACLsResponse).Results
	for i := range out {
		if i >= len(results) {
			out[i].Err = fmt.Errorf("%w: filter missing from the DeleteACLs response", ErrCorruptResponse)
		} else if out[i].Err = kerr.WithMessage(results[i].ErrorCode, results[i].ErrorMessage); out[i].Err == nil {
			for _, m := range results[i].MatchingACLs {
				if m.ErrorCode != 0 {
					continue
				}
				out[i].Deleted = append(out[i].Deleted, ACL{
					ResourceType: ACLResourceType(m.ResourceType), ResourceName: m.ResourceName, Pattern: ACLPattern(m.ResourcePatternType),
					Principal: m.Principal, Host: m.Host, Operation: ACLOperation(m.Operation), Permission: ACLPermission(m.PermissionType),
				})
			}
		}
		ie.add(out[i].Filter.String(), out[i].Err)
	}
	return out, ie.err()
}
