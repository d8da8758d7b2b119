package models

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzDecodeDirectoryCursor decodes arbitrary directory page cursors, which come back from
// clients: refused with ErrBadCursor, or a position without NUL (which PostgreSQL refuses) that
// encodes to a cursor decoding to the same position, for the order it was made for only.
func FuzzDecodeDirectoryCursor(f *testing.F) {
	at := time.Date(2026, 3, 1, 9, 0, 0, 123456789, time.UTC)
	f.Add(encodeDirectoryCursor(DirectoryCustomer{TenantID: "t1", ChangedAt: at}, DirectoryByChanged), true)
	f.Add(encodeDirectoryCursor(DirectoryCustomer{TenantID: "t1", CompanyName: "A|b \"c\""}, DirectoryByName), false)
	f.Add("eyJvIjoibmFtZSIsImsiOiJcdTAwMDAiLCJ0IjoieCJ9", false) // a NUL in the name
	f.Add("eyJvIjoiY2hhbmdlZCIsImsiOiIxMC0xMC0xMCIsInQiOiJ4In0", true)
	f.Add("not base64!", true)
	f.Add("", false)
	f.Fuzz(func(t *testing.T, cursor string, byChanged bool) {
		order, other := DirectoryByName, DirectoryByChanged
		if byChanged {
			order, other = other, order
		}
		key, tenant, err := decodeDirectoryCursor(cursor, order)
		if err != nil {
			if !errors.Is(err, ErrBadCursor) {
				t.Fatalf("decodeDirectoryCursor(%q): %v, want ErrBadCursor", cursor, err)
			}
			return
		}
		if _, _, err := decodeDirectoryCursor(cursor, other); !errors.Is(err, ErrBadCursor) {
			t.Fatalf("the %s cursor %q is taken by the %s order", order, cursor, other)
		}
		last := DirectoryCustomer{TenantID: tenant}
		switch k := key.(type) {
		case time.Time:
			last.ChangedAt = k
		case string:
			last.CompanyName = k
		}
		if strings.ContainsRune(last.CompanyName+tenant, 0) {
			t.Fatalf("decodeDirectoryCursor(%q) lets a NUL through", cursor)
		}
		key2, tenant2, err := decodeDirectoryCursor(encodeDirectoryCursor(last, order), order)
		if err != nil || tenant2 != tenant || !sameKey(key, key2) {
			t.Fatalf("decodeDirectoryCursor(%q) = %v, %q; encoded again it decodes to %v, %q, %v",
				cursor, key, tenant, key2, tenant2, err)
		}
	})
}

func sameKey(a, b any) bool {
	if at, ok := a.(time.Time); ok {
		bt, ok := b.(time.Time)
		return ok && at.Equal(bt)
	}
	return a == b
}
