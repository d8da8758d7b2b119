// Package workflows holds partnerflow's deterministic workflow code: one file per flow, with its
// input, output and status types and the names of its signals, updates and queries. Workflows
// never do I/O; every side effect is an activity.
package workflows

import (
	"go.temporal.io/sdk/temporal"
)

// Search attributes every flow sets, so operators can filter flows in the Temporal Web UI.
var (
	PartnerIDKey         = temporal.NewSearchAttributeKeyKeyword("PartnerId")
	CustomerDomainKey    = temporal.NewSearchAttributeKeyKeyword("CustomerDomain")
	ResellerPartnerIDKey = temporal.NewSearchAttributeKeyKeyword("ResellerPartnerId")
	FlowStatusKey        = temporal.NewSearchAttributeKeyKeyword("FlowStatus")
)

// SearchAttributeKeys lists the custom search attributes the namespace must have.
var SearchAttributeKeys = []temporal.SearchAttributeKey{PartnerIDKey, CustomerDomainKey, ResellerPartnerIDKey, FlowStatusKey}
