// moby's own graph driver suite (daemon/graphdriver/graphtest), run against
// strata's graph driver plugin through moby's plugin client: the plugin is
// found as dockerd finds it (pkg/plugins: /run/docker/plugins/NAME.sock),
// activated, and driven through graphdriver's plugin proxy. The cases are
// the ones moby runs for its overlay2 driver, plus the quota case where the
// backing strata driver has quotas (STRATA_GRAPHTEST_QUOTA=1).
//
// STRATA_GRAPHTEST_PLUGIN names the running plugin.
package graphtest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/docker/docker/daemon/graphdriver"
	"github.com/docker/docker/daemon/graphdriver/graphtest"
	"github.com/docker/docker/pkg/idtools"
	"github.com/docker/docker/pkg/plugingetter"
	"github.com/docker/docker/pkg/plugins"
)

// the name graphtest asks graphdriver for; it resolves to the plugin
const driverName = "strata-graphtest"

// v1 plugins as dockerd's plugin store hands them out (discovery by name)
type v1Getter struct{}

func (v1Getter) Get(name, capability string, mode int) (plugingetter.CompatPlugin, error) {
	return plugins.Get(name, capability)
}

func (v1Getter) GetAllByCap(capability string) ([]plugingetter.CompatPlugin, error) {
	return nil, nil
}

func (v1Getter) GetAllManagedPluginsByCap(capability string) []plugingetter.CompatPlugin {
	return nil
}

func (v1Getter) Handle(capability string, callback func(string, *plugins.Client)) {}

func init() {
	graphdriver.Register(driverName, func(home string, options []string, uidMaps, gidMaps []idtools.IDMap) (graphdriver.Driver, error) {
		plugin := os.Getenv("STRATA_GRAPHTEST_PLUGIN")
		// the plugin's Init gets <root>/<plugin name>, as under dockerd
		return graphdriver.GetDriver(plugin, v1Getter{}, graphdriver.Options{
			Root:                filepath.Dir(home),
			DriverOptions:       options,
			UIDMaps:             uidMaps,
			GIDMaps:             gidMaps,
			ExperimentalEnabled: true,
		})
	})
}

func TestStrataSetup(t *testing.T) {
	if os.Getenv("STRATA_GRAPHTEST_PLUGIN") == "" {
		t.Fatal("STRATA_GRAPHTEST_PLUGIN is not set")
	}
	graphtest.GetDriver(t, driverName)
}

func TestStrataCreateEmpty(t *testing.T) {
	graphtest.DriverTestCreateEmpty(t, driverName)
}

func TestStrataCreateBase(t *testing.T) {
	graphtest.DriverTestCreateBase(t, driverName)
}

func TestStrataCreateSnap(t *testing.T) {
	graphtest.DriverTestCreateSnap(t, driverName)
}

func TestStrata128LayerRead(t *testing.T) {
	graphtest.DriverTestDeepLayerRead(t, 128, driverName)
}

func TestStrataDiffApply10Files(t *testing.T) {
	graphtest.DriverTestDiffApply(t, 10, driverName)
}

func TestStrataChanges(t *testing.T) {
	graphtest.DriverTestChanges(t, driverName)
}

func TestStrataSetQuota(t *testing.T) {
	if os.Getenv("STRATA_GRAPHTEST_QUOTA") != "1" {
		t.Skip("the backing strata driver has no quota on this filesystem")
	}
	graphtest.DriverTestSetQuota(t, driverName, true)
}

func TestStrataTeardown(t *testing.T) {
	graphtest.PutDriver(t)
}
