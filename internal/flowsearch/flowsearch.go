// Package flowsearch names what code outside a workflow uses to find running flows and wake
// them: the custom search attributes every flow sets, the status of a flow that waits for the
// Partner Center connection, and the signal that resumes it. It imports only the Temporal SDK,
// so the workflows and the packages the activities stand on (connection) share these names
// without an import cycle. They are recorded in running workflows and in the namespace, so their
// values never change.
package flowsearch

import "go.temporal.io/sdk/temporal"

// Search attributes every flow sets, so operators can filter flows in the Temporal Web UI.
var (
	PartnerIDKey         = temporal.NewSearchAttributeKeyKeyword("PartnerId")
	CustomerDomainKey    = temporal.NewSearchAttributeKeyKeyword("CustomerDomain")
	ResellerPartnerIDKey = temporal.NewSearchAttributeKeyKeyword("ResellerPartnerId")
	FlowStatusKey        = temporal.NewSearchAttributeKeyKeyword("FlowStatus")
)

// SearchAttributeKeys lists the custom search attributes the namespace must have.
var SearchAttributeKeys = []temporal.SearchAttributeKey{
	PartnerIDKey,
	CustomerDomainKey,
	ResellerPartnerIDKey,
	FlowStatusKey,
}

// StatusConnectionNeeded is the FlowStatus search attribute of a flow waiting for the Partner
// Center connection; the flow's own status is kept and comes back when it resumes.
const StatusConnectionNeeded = "connection_needed"

// SignalConnected tells a flow waiting for the Partner Center connection that a global admin
// connected.
const SignalConnected = "partner-center-connected"
