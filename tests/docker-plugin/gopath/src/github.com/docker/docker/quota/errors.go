// Package quota stands in for moby's quota package, which Debian's
// golang-github-docker-docker-dev does not ship: graphtest only compares a
// driver's error with ErrQuotaNotSupported (to skip its quota case), so the
// error value, as moby defines it, is all that is needed.
package quota // import "github.com/docker/docker/quota"

import "github.com/docker/docker/errdefs"

var (
	_ errdefs.ErrNotImplemented = (*errQuotaNotSupported)(nil)
)

// ErrQuotaNotSupported indicates if were found the FS didn't have projects quotas available
var ErrQuotaNotSupported = errQuotaNotSupported{}

type errQuotaNotSupported struct {
}

func (e errQuotaNotSupported) NotImplemented() {}

func (e errQuotaNotSupported) Error() string {
	return "Filesystem does not support, or has not enabled quotas"
}
