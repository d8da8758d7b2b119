// Package workflows holds partnerflow's deterministic workflow code: one file per flow, with its
// input, output and status types and the names of its signals, updates and queries. Workflows
// never do I/O; every side effect is an activity.
package workflows

import "github.com/partnerflow/partnerflow/internal/flowsearch"

// Search attributes every flow sets, so operators can filter flows in the Temporal Web UI. They
// are defined in flowsearch, which the connection package shares.
var (
	PartnerIDKey         = flowsearch.PartnerIDKey
	CustomerDomainKey    = flowsearch.CustomerDomainKey
	ResellerPartnerIDKey = flowsearch.ResellerPartnerIDKey
	FlowStatusKey        = flowsearch.FlowStatusKey
)

// SearchAttributeKeys lists the custom search attributes the namespace must have.
var SearchAttributeKeys = flowsearch.SearchAttributeKeys
