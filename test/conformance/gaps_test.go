//go:build conformance_gaps

package conformance_test

import (
	"testing"
)

// The tests in this file assert what the specifications require where the
// node does something else today (README.md lists these as known gaps).
// They run only with -tags conformance_gaps, so the default run stays green.

// TestConnectFlagsGaps: a Will QoS without the Will Flag, and (3.1.1) a
// password without a user name, make a CONNECT invalid; the node should
// close the connection. It accepts both.
// [MQTT-3.1.2-13] [MQTT-3.1.2-22] (3.1.1) [MQTT-3.1.2-11] (5.0)
func TestConnectFlagsGaps(t *testing.T) {
	t.Parallel()
	for _, v := range versions {
		cases := []connectCase{
			{"will qos without will", connectPk(uniq(t, "q"), true), func(b []byte) { b[flagsAt] |= 0x08 }},
		}
		if v == 4 {
			pk := connectPk(uniq(t, "pw"), true)
			pk.Connect.PasswordFlag, pk.Connect.Password = true, []byte("secret")
			cases = append(cases, connectCase{"password without user name", pk, func([]byte) {}})
		}
		runRefused(t, v, cases)
	}
}
