// Package v2 stands in for moby's plugin/v2, which Debian's
// golang-github-docker-docker-dev does not ship: daemon/graphdriver's
// plugin lookup imports it only to ask a managed (v2) plugin for its
// propagated mount. strata's plugin is a v1 plugin, found by its socket,
// so that branch is never taken; the type keeps moby's field layout so the
// code compiles unchanged.
package v2 // import "github.com/docker/docker/plugin/v2"

import (
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/pkg/plugins"
)

// Plugin is a managed plugin (moby: plugin/v2.Plugin), reduced to its object.
type Plugin struct {
	PluginObj types.Plugin `json:"plugin"`
}

// Name is the plugin's name.
func (p *Plugin) Name() string { return p.PluginObj.Name }

// ScopedPath is path inside the plugin's root filesystem (moby: its rootfs).
func (p *Plugin) ScopedPath(s string) string { return s }

// IsV1 is false: a managed plugin.
func (p *Plugin) IsV1() bool { return false }

// Client is the v1 client a managed plugin does not have.
func (p *Plugin) Client() *plugins.Client { return nil }
