package activities

import (
	"strings"
	"testing"

	"github.com/partnerflow/partnerflow/partnercenter"
)

func TestAPartnershipIsMatchedByWhatTheResellerProved(t *testing.T) {
	adatum := partnercenter.PartnerRelationship{
		ID:       "tenant-adatum",
		Name:     "Adatum Reseller",
		State:    "Active",
		MPNID:    "1234567",
		Location: "US",
	}
	litware := partnercenter.PartnerRelationship{
		ID:       "tenant-litware",
		Name:     "Litware Reseller",
		State:    "Active",
		MPNID:    "2345678",
		Location: "US",
	}
	twin := partnercenter.PartnerRelationship{
		ID:       "tenant-twin",
		Name:     "adatum  reseller",
		State:    "Active",
		MPNID:    "7654321",
		Location: "US",
	}
	gone := partnercenter.PartnerRelationship{
		ID:       "tenant-gone",
		Name:     "Gone Reseller",
		State:    "Inactive",
		MPNID:    "3456789",
		Location: "US",
	}
	list := []partnercenter.PartnerRelationship{adatum, litware, gone}

	cases := []struct {
		name       string
		company    string
		mpnID      string
		list       []partnercenter.PartnerRelationship
		wantTenant string
		wantReview string
		reasonHas  []string
	}{
		{
			name:       "the company that authorized the provider is found by its name",
			company:    "Adatum Reseller",
			list:       list,
			wantTenant: "tenant-adatum",
		},
		{
			name:       "case and spacing of the name do not matter",
			company:    "  ADATUM   reseller ",
			list:       list,
			wantTenant: "tenant-adatum",
		},
		{
			name:       "a PartnerID that agrees with the named company is found",
			company:    "Adatum Reseller",
			mpnID:      "1234567",
			list:       list,
			wantTenant: "tenant-adatum",
		},
		{
			name:    "a company that has not authorized the provider yet is not found",
			company: "Proseware Reseller",
			list:    list,
		},
		{
			name:    "a PartnerID nobody who authorized has keeps the request waiting",
			company: "Proseware Reseller",
			mpnID:   "9999999",
			list:    list,
		},
		{name: "an inactive relationship never matches", company: "Gone Reseller", list: list},
		{
			name:    "an inactive relationship's PartnerID is no mismatch either",
			company: "Evil Corp",
			mpnID:   "3456789",
			list:    list,
		},
		{
			name:       "another company's PartnerID typed for the request stops it for review",
			company:    "Evil Corp",
			mpnID:      "1234567",
			list:       list,
			wantReview: ReviewPartnerIDMismatch,
			reasonHas:  []string{"1234567", "Adatum Reseller", "tenant-adatum", "Evil Corp"},
		},
		{
			name:       "another company's PartnerID stops the request even when its own name is found",
			company:    "Litware Reseller",
			mpnID:      "1234567",
			list:       list,
			wantReview: ReviewPartnerIDMismatch,
			reasonHas:  []string{"1234567", "Adatum Reseller"},
		},
		{
			name:       "the named company with another PartnerID stops the request for review",
			company:    "Adatum Reseller",
			mpnID:      "7777777",
			list:       list,
			wantReview: ReviewPartnerIDMismatch,
			reasonHas:  []string{"1234567", "7777777"},
		},
		{
			name:       "two authorized resellers with the request's name stop it for review",
			company:    "Adatum Reseller",
			list:       append(list, twin),
			wantReview: ReviewAmbiguous,
			reasonHas:  []string{"tenant-adatum", "tenant-twin"},
		},
		{
			name:       "a PartnerID does not pick one of two resellers with the request's name",
			company:    "Adatum Reseller",
			mpnID:      "7654321",
			list:       append(list, twin),
			wantReview: ReviewAmbiguous,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := matchPartnership(tc.company, tc.mpnID, tc.list)
			if got.Review != tc.wantReview || got.Found != (tc.wantTenant != "") || got.TenantID != tc.wantTenant {
				t.Fatalf("got %+v, want tenant %q review %q", got, tc.wantTenant, tc.wantReview)
			}
			if got.Found && (got.Review != "" || got.MPNID == "" || got.Name == "") {
				t.Fatalf("a match carries what Partner Center says of the reseller: %+v", got)
			}
			for _, s := range tc.reasonHas {
				if !strings.Contains(got.Reason, s) {
					t.Errorf("reason %q lacks %q", got.Reason, s)
				}
			}
		})
	}
}
