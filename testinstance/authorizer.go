package testinstance

import (
	"maps"
	"strings"
)

// StandardAuthorizer is the class of KRaft's ACL authorizer.
const StandardAuthorizer = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"

// WithAuthorizer returns cfg with KRaft's StandardAuthorizer on every node,
// so that the cluster checks ACLs: a principal may do only what an ACL
// allows it (allow.everyone.if.no.acl.found=false), and the errors a client
// meets are the authorization ones (TOPIC_AUTHORIZATION_FAILED,
// GROUP_AUTHORIZATION_FAILED, CLUSTER_AUTHORIZATION_FAILED).
//
// superUsers are user names (Security.Users) allowed everything, for the
// tests' administration over a SASL listener. The PLAINTEXT listener's
// principal, User:ANONYMOUS, is always a super user: the nodes talk to each
// other over PLAINTEXT and CONTROLLER, and the readiness checks use it, so a
// test's admin client may too. Users that are not super users have no
// right until an ACL gives them one: give the cluster a SASL listener
// (Security) to log in as them.
func (cfg Config) WithAuthorizer(superUsers ...string) Config {
	supers := []string{"User:ANONYMOUS"}
	for _, u := range superUsers {
		supers = append(supers, "User:"+u)
	}
	props := maps.Clone(cfg.BrokerProperties)
	if props == nil {
		props = map[string]string{}
	}
	props["authorizer.class.name"] = StandardAuthorizer
	props["super.users"] = strings.Join(supers, ";")
	props["allow.everyone.if.no.acl.found"] = "false"
	cfg.BrokerProperties = props
	return cfg
}
