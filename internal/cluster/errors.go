package cluster

import "errors"

// ErrIgnored is returned for join self and force-leave self (emqx_ctl
// prints "Ignore."). Every other failure is an *emqxterm.Error.
var ErrIgnored = errors.New("ignore")
