package partnercenter

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Service error codes the flows act on. Partner Center puts them in the
// `code` field of its error envelope.
const (
	// CodeMCANotAccepted: a purchase for a customer without an attested
	// Microsoft Customer Agreement (HTTP 403).
	CodeMCANotAccepted = 13605
	// CodeAgreementAlreadyExists: the same MCA attestation again; treat as done.
	CodeAgreementAlreadyExists = 600061
	// CodeResellerNotFound: the transaction reseller's PartnerID is unknown
	// (HTTP 404 in Microsoft's error table).
	CodeResellerNotFound = 800015
	// CodeNotIndirectReseller: the PartnerID is not an indirect reseller of
	// this provider (HTTP 400).
	CodeNotIndirectReseller = 800016
	// CodeResellerAgreementNotAccepted: the reseller has not accepted the
	// Microsoft Partner Agreement (HTTP 403).
	CodeResellerAgreementNotAccepted = 900123
	// CodeInvalidInput: a malformed compliance query: a non-numeric MPN ID, a
	// tenant ID that is not a GUID, or both IDs at once (HTTP 400).
	CodeInvalidInput = 2000
	// CodeMissingIdentifier: a compliance query with neither MPN ID nor
	// tenant ID (HTTP 400).
	CodeMissingIdentifier = 2001
	// CodeMPNInvalid: the MPN ID is invalid or not migrated to Partner Center
	// (HTTP 400).
	CodeMPNInvalid = 2200
	// CodeRegionMismatch: provider and reseller are in different CSP regions
	// (HTTP 400).
	CodeRegionMismatch = 2201
	// CodeAgreementNotSignedForRegion: the reseller (by MPN ID) has not signed
	// the MPA for the provider's region (HTTP 400).
	CodeAgreementNotSignedForRegion = 2203
	// CodeNotAnIndirectReseller: the MPN ID has no CSP indirect reseller
	// enrollment (HTTP 400).
	CodeNotAnIndirectReseller = 2204
	// CodeTenantNotFound: no Partner Center account has the tenant ID of an
	// agreement status query (HTTP 400).
	CodeTenantNotFound = 2205
	// CodeTenantAgreementNotSigned: the account with the queried tenant ID has
	// not signed the MPA (HTTP 400).
	CodeTenantAgreementNotSigned = 2206
	// CodeMPNNotFound: no partner organization with that MPN ID (HTTP 404).
	CodeMPNNotFound = 3000
	// CodeInvalidCatalogItem: a cart line item names an unknown catalog item
	// (CartErrorCode CatalogItemIdIsNotValid, on the line).
	CodeInvalidCatalogItem = 10001
	// CodeQuantityOutOfRange: a cart line item's quantity is outside what the
	// item allows (CartErrorCode QuotaNotAvailable, on the line).
	CodeQuantityOutOfRange = 10002
	// CodeCartSubscriptionNotValid: the subscription a line refers to (an
	// add-on's parentSubscriptionId) is not valid (CartErrorCode
	// SubscriptionIsNotValid, on the line).
	CodeCartSubscriptionNotValid = 10007
	// CodeCartInvalidInput: a line's input is not valid, e.g. a billing cycle
	// or term the item is not sold with (CartErrorCode InvalidInput, on the
	// line).
	CodeCartInvalidInput = 10010
	// CodeAttestationNotAccepted: the line item's product requires an
	// attestation that was not accepted (CartErrorCode AttestationNotAccepted,
	// on the line).
	CodeAttestationNotAccepted = 10012
	// CodeOrderNotFound: no order has the ID (HTTP 404).
	CodeOrderNotFound = 20000
	// CodeSubscriptionNotFound: no subscription has the ID (HTTP 404).
	CodeSubscriptionNotFound = 20003
	// CodeInvalidRequestInput: invalid request input (HTTP 400).
	CodeInvalidRequestInput = 800002
	// CodeCartItemErrors: a checkout of a cart whose lines carry errors
	// ("Error in Cart item(s)", HTTP 400); the line errors are in Error.Data.
	CodeCartItemErrors = 800009
	// CodeAddonNotRelated: the add-on is not related to the specified parent
	// subscription (HTTP 400).
	CodeAddonNotRelated = 800029
	// CodeCartAlreadySubmitted: a checkout of a cart that was already
	// submitted (HTTP 400).
	CodeCartAlreadySubmitted = 800065
	// CodeAssetLimitExceeded: the purchase exceeds the number of assets of
	// that item a customer may own, e.g. a second Azure plan (HTTP 403).
	CodeAssetLimitExceeded = 800089
	// CodeOrgRegistrationNotSupported: organizationRegistrationNumber given
	// for a customer in a country that takes none (HTTP 400).
	CodeOrgRegistrationNotSupported = 600002
	// CodeOrgRegistrationMissing: organizationRegistrationNumber missing for
	// a customer in a country that requires it (HTTP 400).
	CodeOrgRegistrationMissing = 600049
	// CodePhoneNumberMissing: billingProfile.defaultAddress.phoneNumber
	// missing for a customer in a country that requires it (HTTP 400).
	CodePhoneNumberMissing = 600051

	// Refusals of "Update a subscription by ID" (PATCH .../subscriptions/{id}), from the error code
	// table (partner-center/developer/error-codes); all HTTP 400 but 2072 (404).

	// CodeSubscriptionDeleted: a cancelled (deleted) subscription cannot be updated.
	CodeSubscriptionDeleted = 2011
	// CodeSubscriptionQuantityOutOfRange: the quantity is outside the offer's minimum and maximum.
	CodeSubscriptionQuantityOutOfRange = 2002
	// CodeBillingCycleNotUpdatable: the billing cycle changes with update-Order, not here.
	CodeBillingCycleNotUpdatable = 2054
	// CodeProviderNotPartnerOfRecord: the indirect provider's own PartnerID cannot be the
	// partner of record (HTTP 404).
	CodeProviderNotPartnerOfRecord = 2072
	// CodeSubscriptionSuspended: a suspended subscription cannot be updated (reactivate it first).
	CodeSubscriptionSuspended = 800091
	// CodeSeatsNotUpdatable: the subscription has no seat quantity (usage-based).
	CodeSeatsNotUpdatable = 800095
	// CodeCancellationWindowPassed: a new-commerce subscription is cancelled after its
	// {0}-day cancellation window.
	CodeCancellationWindowPassed = 900117
	// CodeSeatReductionWindowPassed: seats of a new-commerce subscription are reduced after the
	// {0}-day window for reducing them.
	CodeSeatReductionWindowPassed = 900257
	// CodeInvalidPartnerOfRecord is a validateresellers result's errorCode for a PartnerID
	// that is not a valid partner of record ("Validate reseller partner of record").
	CodeInvalidPartnerOfRecord = 900400
)

// Error is a failed call: an HTTP error answer of the service, or a transport
// failure (StatusCode 0) such as a timeout or a dropped connection.
type Error struct {
	// Op names the client operation, e.g. "create customer".
	Op string
	// StatusCode is the HTTP status, 0 for a transport failure.
	StatusCode int
	// Code is Partner Center's numeric code, 0 when the body had none.
	Code int
	// GraphCode is Microsoft Graph's string code (error.code), if any.
	GraphCode string
	// Description is the service's human-readable description.
	Description string
	// RetryAfter is the server's Retry-After on 429 and 503 answers.
	RetryAfter time.Duration
	// Source is the service component that answered (e.g. "PartnerFD").
	Source string
	// Data is the error's data list; items that are not strings are kept as
	// their JSON text.
	Data []string
	// Message, ErrorName, ServiceRetryable, Parameters and
	// ErrorMessageExtended are the extended fields some answers carry (the
	// 600061 example of "Confirm customer acceptance of the Microsoft
	// Customer Agreement"). ServiceRetryable is the body's isRetryable, nil
	// when absent; Retryable does not consult it.
	Message              string
	ErrorName            string
	ServiceRetryable     *bool
	Parameters           map[string]any
	ErrorMessageExtended string
	// RequestID is the MS-RequestId the call was sent with.
	RequestID string
	// Err is the transport error underneath a StatusCode 0 failure.
	Err error
}

// Error describes the failure without any request body or secret.
func (e *Error) Error() string {
	if e.StatusCode == 0 {
		return fmt.Sprintf("partner center %s: transport failure (request %s): %v", e.Op, e.RequestID, e.Err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "partner center %s: HTTP %d", e.Op, e.StatusCode)
	if e.Code != 0 {
		fmt.Fprintf(&b, " code %d", e.Code)
	}
	if e.GraphCode != "" {
		fmt.Fprintf(&b, " %s", e.GraphCode)
	}
	if e.Description != "" {
		fmt.Fprintf(&b, ": %s", e.Description)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// Unwrap exposes the transport error.
func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether the same call may succeed later: throttling,
// server errors, timeouts and dropped connections yes; business refusals no.
func (e *Error) Retryable() bool {
	switch {
	case e.StatusCode == 0:
		return true
	case e.StatusCode == http.StatusTooManyRequests, e.StatusCode == http.StatusRequestTimeout:
		return true
	case e.StatusCode >= 500:
		return true
	default:
		return false
	}
}

// IsCode reports whether err is a service Error with the given code.
func IsCode(err error, code int) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// IsStatus reports whether err is a service Error with the given HTTP status.
func IsStatus(err error, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.StatusCode == status
}

// IsNotFound reports whether err is a service answer 404: for FindTenantByDomain, that no
// tenant holds the domain (Graph documents no error body for it, so only the status counts).
func IsNotFound(err error) bool { return IsStatus(err, http.StatusNotFound) }

// IsRetryable reports whether err is an Error that retrying can fix.
func IsRetryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Retryable()
}

// RetryAfter returns the delay the server asked for, 0 if none; activities
// hand it to Temporal as NextRetryDelay.
func RetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// errorEnvelope is the Partner Center error body, with the extended fields
// and Graph's inner error.
type errorEnvelope struct {
	Code                 json.Number     `json:"code"`
	Description          string          `json:"description"`
	Data                 json.RawMessage `json:"data"`
	Source               string          `json:"source"`
	Message              string          `json:"message"`
	ErrorName            string          `json:"errorName"`
	IsRetryable          *bool           `json:"isRetryable"`
	Parameters           map[string]any  `json:"parameters"`
	ErrorMessageExtended string          `json:"errorMessageExtended"`
	Error                *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// ErrorBody is the Partner Center error envelope the simulator writes:
// code, description, data and source, as the error code page documents it.
type ErrorBody struct {
	Code        int      `json:"code"`
	Description string   `json:"description"`
	Data        []string `json:"data"`
	Source      string   `json:"source"`
}

// ExtendedErrorBody is the error body of the 600061 example (a partner
// confirmed agreement that already exists): code, message, description,
// errorName, isRetryable, parameters and errorMessageExtended, without data
// or source.
type ExtendedErrorBody struct {
	Code                 int            `json:"code"`
	Message              string         `json:"message"`
	Description          string         `json:"description"`
	ErrorName            string         `json:"errorName"`
	IsRetryable          bool           `json:"isRetryable"`
	Parameters           map[string]any `json:"parameters"`
	ErrorMessageExtended string         `json:"errorMessageExtended"`
}

// ThrottledBody is the body of Partner Center's 429 as "API throttling guidance for partners
// calling Partner Center APIs" shows it (not the error envelope):
// {"statusCode": 429, "message": "Rate limit is exceeded. Try again in 57 seconds."}, with the
// same seconds in Retry-After.
type ThrottledBody struct {
	StatusCode int    `json:"statusCode"`
	Message    string `json:"message"`
}

// GraphErrorBody is the Microsoft Graph error envelope the simulator writes.
type GraphErrorBody struct {
	Error GraphErrorDetail `json:"error"`
}

// GraphErrorDetail is the inner object of a Graph error.
type GraphErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// newHTTPError turns a non-2xx answer into an *Error.
func newHTTPError(op, requestID string, resp *http.Response, body []byte, now time.Time) *Error {
	e := &Error{Op: op, StatusCode: resp.StatusCode, RequestID: requestID}
	var env errorEnvelope
	if json.Unmarshal(body, &env) == nil {
		if n, err := env.Code.Int64(); err == nil {
			e.Code = int(n)
		} else if env.Code != "" {
			e.GraphCode = env.Code.String()
		}
		e.Description = env.Description
		if e.Description == "" {
			e.Description = env.Message
		}
		e.Source, e.Message, e.ErrorName = env.Source, env.Message, env.ErrorName
		e.ServiceRetryable, e.Parameters, e.ErrorMessageExtended =
			env.IsRetryable, env.Parameters, env.ErrorMessageExtended
		e.Data = dataStrings(env.Data)
		if env.Error != nil {
			e.GraphCode = env.Error.Code
			e.Description = env.Error.Message
		}
	}
	if e.Description == "" {
		e.Description = http.StatusText(resp.StatusCode)
	}
	e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), now)
	if e.RetryAfter == 0 && resp.StatusCode == http.StatusTooManyRequests {
		// The documented 429 says it in its message too; a lost header still gets the delay.
		if m := tryAgainIn.FindStringSubmatch(e.Description); m != nil {
			if n, err := strconv.Atoi(m[1]); err == nil {
				e.RetryAfter = time.Duration(n) * time.Second
			}
		}
	}
	return e
}

// tryAgainIn finds the delay in the message of Partner Center's documented 429.
var tryAgainIn = regexp.MustCompile(`Try again in (\d{1,6}) seconds?`)

// dataStrings reads an error's data: a list whose string items are kept as
// text and other items as their JSON; anything else as one JSON text.
func dataStrings(raw json.RawMessage) []string {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return []string{string(raw)}
	}
	out := make([]string, 0, len(items))
	for _, d := range items {
		var str string
		if json.Unmarshal(d, &str) == nil {
			out = append(out, str)
		} else {
			out = append(out, string(d))
		}
	}
	return out
}

// parseRetryAfter reads delta-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
