// Package version holds the build version, stamped by the Makefile with
// -ldflags "-X emqxgo/internal/version.Version=...".
package version

// Version is the product version printed by `emqx version` and at start.
var Version = "0.1.0-dev"
