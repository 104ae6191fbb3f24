package wire

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/gokafka/kafka/internal/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// softwareVersion is sent in ApiVersions v3+ so that broker operators can see
// which clients connect.
const softwareVersion = "0.1.0"

// negotiate asks the broker which versions it speaks. It first tries
// ApiVersions v4; a broker that does not know v4 answers UNSUPPORTED_VERSION
// with a v0 body that lists its own ApiVersions range, and we retry at that
// version.
func (c *Conn) negotiate(ctx context.Context) error {
	version := versionCaps[18]
	for attempt := 0; attempt < 2; attempt++ {
		req := kmsg.NewPtrApiVersionsRequest()
		req.ClientSoftwareName = "gokafka"
		req.ClientSoftwareVersion = softwareVersion
		req.SetVersion(version)
		cl, err := c.send(ctx, req, false)
		if err != nil {
			return err
		}
		var res result
		select {
		case res = <-cl.done:
		case <-ctx.Done():
			return fmt.Errorf("%w: version negotiation with %s: %w", kerr.ErrConnection, c.addr, ctx.Err())
		}
		if res.err != nil {
			return res.err
		}
		if len(res.body) < 2 {
			return fmt.Errorf("%w: ApiVersions response from %s too short", kerr.ErrCorruptResponse, c.addr)
		}
		code := int16(binary.BigEndian.Uint16(res.body))
		resp := kmsg.NewPtrApiVersionsResponse()
		if code == kerr.UnsupportedVersion.Code {
			resp.SetVersion(0)
			if err := resp.ReadFrom(res.body); err != nil {
				return fmt.Errorf("%w: ApiVersions v0 from %s: %w", kerr.ErrCorruptResponse, c.addr, err)
			}
			max, ok := versionsFrom(resp).Max(18)
			// A broker that claims no usable version (or one we
			// already tried) would have us loop or send version -1.
			if !ok || max >= version || max < 0 {
				return fmt.Errorf("%w: %s rejected ApiVersions v%d", kerr.ErrUnsupportedVersion, c.addr, version)
			}
			version = max
			continue
		}
		resp.SetVersion(version)
		if err := resp.ReadFrom(res.body); err != nil {
			return fmt.Errorf("%w: ApiVersions v%d from %s: %w", kerr.ErrCorruptResponse, version, c.addr, err)
		}
		if err := kerr.ForCode(resp.ErrorCode); err != nil {
			return fmt.Errorf("ApiVersions with %s: %w", c.addr, err)
		}
		c.versions = versionsFrom(resp)
		return nil
	}
	return fmt.Errorf("%w: version negotiation with %s did not converge", kerr.ErrUnsupportedVersion, c.addr)
}
