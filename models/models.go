// Package models holds partnerflow's own records — API keys, flow status rows, the mail outbox —
// their queries, and the versioned schema migrations for PostgreSQL and SQLite.
package models

import (
	"slices"
	"strings"
	"time"
)

// Role is a Partner Center role an API key may carry; handlers allow an action by role.
type Role string

// The roles mirror Partner Center's: admin agents manage delegated admin, sales agents sell,
// global admins may do everything including managing API keys.
const (
	RoleAdminAgent  Role = "admin-agent"
	RoleSalesAgent  Role = "sales-agent"
	RoleGlobalAdmin Role = "global-admin"
)

// AllRoles lists every role, in a stable order.
var AllRoles = []Role{RoleAdminAgent, RoleSalesAgent, RoleGlobalAdmin}

// ParseRole returns the role named s, or false when s names none.
func ParseRole(s string) (Role, bool) {
	r := Role(s)
	return r, slices.Contains(AllRoles, r)
}

// Roles is a set of roles stored as a comma-separated column.
type Roles string

// NewRoles joins roles into the stored form, sorted and without duplicates.
func NewRoles(roles ...Role) Roles {
	names := make([]string, 0, len(roles))
	for _, r := range roles {
		names = append(names, string(r))
	}
	slices.Sort(names)
	return Roles(strings.Join(slices.Compact(names), ","))
}

// List returns the roles in the set.
func (rs Roles) List() []Role {
	var out []Role
	for _, s := range strings.Split(string(rs), ",") {
		if r, ok := ParseRole(s); ok {
			out = append(out, r)
		}
	}
	return out
}

// Has reports whether the set holds role r; a global admin holds every role.
func (rs Roles) Has(r Role) bool {
	list := rs.List()
	return slices.Contains(list, r) || slices.Contains(list, RoleGlobalAdmin)
}

// APIKey is a caller's credential. Only the SHA-256 hash of the secret is stored; the key's
// public ID prefixes the secret so a lookup needs no scan.
type APIKey struct {
	ID         string `gorm:"primaryKey"`
	Name       string
	SecretHash string
	Roles      Roles
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}
