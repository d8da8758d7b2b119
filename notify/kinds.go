package notify

import (
	"reflect"
	"slices"
	"time"
)

// Message kinds: each has a template per language in templates/ and takes one data type.
const (
	// KindInvitation, KindInvitationReminder and KindInvitationResend ask a customer's Global
	// administrator to accept a reseller relationship and approve GDAP roles, or to accept the
	// reseller relationship alone (InvitationMail).
	KindInvitation         = "invitation"
	KindInvitationReminder = "invitation-reminder"
	KindInvitationResend   = "invitation-resend"
	// KindInvitationEscalation tells the partner's contact that a customer has not accepted
	// after the reminders (InvitationMail).
	KindInvitationEscalation = "invitation-escalation"
	// KindAccessLost and KindAccessExpiring tell the partner's contact that its delegated admin
	// access to a customer has ended or is about to (AccessAlert).
	KindAccessLost     = "access-lost"
	KindAccessExpiring = "access-expiring"
	// KindResellerInvitation, KindResellerReminder and KindResellerResend ask a company to
	// become the indirect provider's indirect reseller (ResellerMail).
	KindResellerInvitation = "reseller-invitation"
	KindResellerReminder   = "reseller-reminder"
	KindResellerResend     = "reseller-resend"
	// KindResellerEscalation tells the provider's contact that a company has not accepted the
	// partnership request after the reminders (ResellerMail).
	KindResellerEscalation = "reseller-escalation"
	// KindResellerVerified and KindResellerVerificationFailed tell the provider's contact the
	// outcome of checking a reseller's PartnerID and partner agreement (ResellerVerification).
	KindResellerVerified           = "reseller-verified"
	KindResellerVerificationFailed = "reseller-verification-failed"
	// KindRemovalReseller tells an indirect reseller that its provider ended their partnership;
	// KindRemovalCustomer tells the reseller's customers what that means for them (RemovalMail).
	KindRemovalReseller = "removal-reseller"
	KindRemovalCustomer = "removal-customer"
	// KindAgreementRequest, KindAgreementReminder and KindAgreementResend ask a new customer's
	// contact to accept the Microsoft Customer Agreement before its first purchase (AgreementMail).
	KindAgreementRequest  = "agreement-request"
	KindAgreementReminder = "agreement-reminder"
	KindAgreementResend   = "agreement-resend"
	// KindAgreementEscalation tells the partner's contact that a customer has not accepted the
	// agreement after the reminders, and that it may attest an acceptance made otherwise
	// (AgreementMail).
	KindAgreementEscalation = "agreement-escalation"
	// KindConnectionLost tells the partner's contact that partnerflow's App+User connection to
	// Partner Center stopped working, so flows wait until a global admin connects again
	// (ConnectionAlert).
	KindConnectionLost = "connection-lost"
	// KindConnectionLapsing tells the partner's contact that the connection's refresh token
	// lapses soon because it has not been renewed, so App+User calls would start to wait
	// (ConnectionAlert with LapsesAt).
	KindConnectionLapsing = "connection-lapsing"
)

// ConnectionAlert is the data of the mail about the partner's Partner Center connection.
type ConnectionAlert struct {
	// UPN is who connected last (empty when nobody ever did).
	UPN string
	// Reason is what Entra ID or partnerflow said.
	Reason string
	// Link opens the connection page of partnerflow's dashboard.
	Link string
	// LapsesAt is when the refresh token lapses unless it is renewed (the lapsing warning).
	LapsesAt time.Time
}

// InvitationMail is the data of the invitation mails: a partner asks a customer to accept it as
// reseller and to approve delegated admin roles.
type InvitationMail struct {
	PartnerName    string
	CustomerDomain string
	// Link opens the customer's landing page (it carries a signed token).
	Link string
	// Roles are the Microsoft Entra roles' display names.
	Roles        []string
	DurationDays int
	ExpiresAt    time.Time
	// Seq is the reminder's number (the escalation's: how many reminders went unanswered).
	Seq int
	// NoAdminAccess says the partner asks for the reseller relationship alone, without admin
	// roles (Roles is empty).
	NoAdminAccess bool
	// USGovernment says the customer is in Microsoft Cloud for US Government and accepts in the
	// Office admin portal for US Government rather than the Microsoft 365 admin center.
	USGovernment bool
}

// AccessAlert is the data of the mails about a customer's delegated admin access.
type AccessAlert struct {
	CustomerDomain string
	RelationshipID string
	// Status is the GDAP relationship's status in Microsoft Graph, such as "terminated".
	Status string
	EndsAt time.Time
}

// ResellerMail is the data of the partnership request mails: an indirect provider asks a company
// to become its indirect reseller in Partner Center.
type ResellerMail struct {
	// PartnerName is the indirect provider's name.
	PartnerName string
	// CompanyName is the prospective indirect reseller's name.
	CompanyName string
	// Link opens partnerflow's landing page for the reseller (it carries a signed token).
	Link      string
	ExpiresAt time.Time
	// Seq is the reminder's number (the escalation's: how many reminders went unanswered).
	Seq int
}

// ResellerVerification is the data of the mails about checking an indirect reseller's PartnerID
// and Microsoft Partner Agreement.
type ResellerVerification struct {
	// PartnerName is the indirect provider's name.
	PartnerName string
	CompanyName string
	MPNID       string
	// Code is Partner Center's error code of a failed check (such as "2203"); the mail explains
	// the known ones in the reader's language.
	Code string
	// Reason is the failure in plain (English) words, shown when the code is not a known one.
	Reason string
}

// RemovalMail is the data of the mails about an indirect provider ending its partnership with an
// indirect reseller.
type RemovalMail struct {
	ProviderName string
	ResellerName string
	// CustomerName is the recipient's company: the reseller itself, or one of its customers.
	CustomerName string
	RemovedAt    time.Time
}

// AgreementMail asks a new customer's contact to accept the Microsoft Customer Agreement.
type AgreementMail struct {
	PartnerName   string // the partner, or the indirect provider
	ResellerName  string // the indirect reseller the customer buys through, "" when none
	CompanyName   string // the customer
	ContactName   string // "Maria Rossi"
	Link          string // partnerflow's signed agreement page
	AgreementLink string // Microsoft's agreement text (https://www.microsoft.com/licensing/docs/customeragreement)
	ExpiresAt     time.Time
	Seq           int // reminder number
}

// kindData is the data type each kind's templates take.
var kindData = map[string]reflect.Type{
	KindInvitation:                 reflect.TypeFor[InvitationMail](),
	KindInvitationReminder:         reflect.TypeFor[InvitationMail](),
	KindInvitationResend:           reflect.TypeFor[InvitationMail](),
	KindInvitationEscalation:       reflect.TypeFor[InvitationMail](),
	KindAccessLost:                 reflect.TypeFor[AccessAlert](),
	KindAccessExpiring:             reflect.TypeFor[AccessAlert](),
	KindConnectionLost:             reflect.TypeFor[ConnectionAlert](),
	KindConnectionLapsing:          reflect.TypeFor[ConnectionAlert](),
	KindResellerInvitation:         reflect.TypeFor[ResellerMail](),
	KindResellerReminder:           reflect.TypeFor[ResellerMail](),
	KindResellerResend:             reflect.TypeFor[ResellerMail](),
	KindResellerEscalation:         reflect.TypeFor[ResellerMail](),
	KindResellerVerified:           reflect.TypeFor[ResellerVerification](),
	KindResellerVerificationFailed: reflect.TypeFor[ResellerVerification](),
	KindRemovalReseller:            reflect.TypeFor[RemovalMail](),
	KindRemovalCustomer:            reflect.TypeFor[RemovalMail](),
	KindAgreementRequest:           reflect.TypeFor[AgreementMail](),
	KindAgreementReminder:          reflect.TypeFor[AgreementMail](),
	KindAgreementResend:            reflect.TypeFor[AgreementMail](),
	KindAgreementEscalation:        reflect.TypeFor[AgreementMail](),
}

// Kinds returns every message kind, sorted.
func Kinds() []string {
	out := make([]string, 0, len(kindData))
	for k := range kindData {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
