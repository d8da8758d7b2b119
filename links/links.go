// Package links makes and checks the signed, expiring, single-purpose tokens in the links
// partnerflow sends customers. The API and the activities share the signing key, so both derive
// the same link for an invitation and no token ever needs to pass through a workflow.
package links

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Purposes of tokens; a token made for one is refused for another.
const (
	PurposeAcceptInvitation = "accept-invitation"
)

// Errors a token check returns.
var (
	ErrMalformed = errors.New("the link is malformed or was altered")
	ErrExpired   = errors.New("the link has expired")
)

// Signer signs and verifies tokens with one key.
type Signer struct{ key []byte }

// NewSigner returns a signer for key (at least 32 bytes).
func NewSigner(key []byte) *Signer { return &Signer{key: key} }

// Token returns "<subject>.<unix expiry>.<mac>" for purpose.
func (s *Signer) Token(purpose, subject string, expires time.Time) string {
	payload := subject + "." + strconv.FormatInt(expires.Unix(), 10)
	return payload + "." + s.mac(purpose, payload)
}

// Verify returns the subject of a token made for purpose and not yet expired at now.
func (s *Signer) Verify(purpose, token string, now time.Time) (string, error) {
	i := strings.LastIndex(token, ".")
	if i < 0 {
		return "", ErrMalformed
	}
	payload, mac := token[:i], token[i+1:]
	if !hmac.Equal([]byte(mac), []byte(s.mac(purpose, payload))) {
		return "", ErrMalformed
	}
	j := strings.LastIndex(payload, ".")
	expiry, err := strconv.ParseInt(payload[j+1:], 10, 64)
	if j < 0 || err != nil {
		return "", ErrMalformed
	}
	if now.Unix() > expiry {
		return "", ErrExpired
	}
	return payload[:j], nil
}

func (s *Signer) mac(purpose, payload string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(purpose + "\x00" + payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// AcceptURL is the customer's landing link for an invitation.
func (s *Signer) AcceptURL(baseURL, invitationID string, expires time.Time) string {
	return strings.TrimRight(baseURL, "/") + "/accept/" + s.Token(PurposeAcceptInvitation, invitationID, expires)
}

// PurposeResellerPartnership is the token purpose of a reseller's partnership landing link.
const PurposeResellerPartnership = "reseller-partnership"

// PartnershipURL is a reseller's landing link for a partnership request.
func (s *Signer) PartnershipURL(baseURL, resellerID string, expires time.Time) string {
	return strings.TrimRight(baseURL, "/") + "/partner/" + s.Token(PurposeResellerPartnership, resellerID, expires)
}

// PurposeAgreement is the token purpose of a customer's agreement page link.
const PurposeAgreement = "customer-agreement"

// AgreementURL is the customer's link to accept the Microsoft Customer Agreement.
func (s *Signer) AgreementURL(baseURL, customerID string, expires time.Time) string {
	return strings.TrimRight(baseURL, "/") + "/agreement/" + s.Token(PurposeAgreement, customerID, expires)
}
