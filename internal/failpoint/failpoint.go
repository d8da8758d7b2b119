// Package failpoint names the places where a crash would leave the engine between two writes,
// and, in binaries built with the "failpoints" tag only, ends the process at one of them as
// SIGKILL would: no deferred call runs, nothing is flushed. The e2e crash-point suite builds
// such a binary, sets PARTNERFLOW_FAILPOINT to "<point>" or "<point>:<flow kind>", and checks
// that the flow still reaches its end after a restart. Binaries built without the tag carry
// only the empty Hit below.
package failpoint

// The crash points. Each is hit right after a write whose follow-up is owed to another system.
const (
	// CreateAfterRecord: a new flow's row (with the command that starts its workflow) is
	// committed; its workflow has not been started.
	CreateAfterRecord = "create.after-record"
	// CreateAfterStart: the workflow has started; the command that started it is still on record.
	CreateAfterStart = "create.after-start"
	// AttestAfterEvidence: the customer's agreement evidence (with the command that tells the
	// onboarding's workflow) is committed; the workflow has not been told.
	AttestAfterEvidence = "attest.after-evidence"
)

// Points lists every crash point.
var Points = []string{CreateAfterRecord, CreateAfterStart, AttestAfterEvidence}

// Env is the environment variable that arms one crash point in a failpoints build.
const Env = "PARTNERFLOW_FAILPOINT"
