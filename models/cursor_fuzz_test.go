package models

import (
	"errors"
	"testing"
	"time"
)

// FuzzDecodeCursor decodes arbitrary page cursors, which come back from clients: a cursor is
// refused with ErrBadCursor, or decodes to a position that encodes to a cursor decoding to the
// same position.
func FuzzDecodeCursor(f *testing.F) {
	f.Add(encodeCursor(time.Date(2025, 3, 10, 9, 0, 0, 123456789, time.UTC), "inv_0123456789abcdef"))
	f.Add(encodeCursor(time.Time{}, ""))
	f.Add(encodeCursor(time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC), "id|with|bars"))
	f.Add("MjAyNS0wMy0xMFQwOTowMDowMCswMTowMHxpbnZfMQ") // an offset instead of Z
	f.Add("not base64!")
	f.Add("")
	f.Fuzz(func(t *testing.T, cursor string) {
		at, id, err := decodeCursor(cursor)
		if err != nil {
			if !errors.Is(err, ErrBadCursor) {
				t.Fatalf("decodeCursor(%q): %v, want ErrBadCursor", cursor, err)
			}
			return
		}
		again := encodeCursor(at, id)
		at2, id2, err := decodeCursor(again)
		if err != nil || !at2.Equal(at) || id2 != id {
			t.Fatalf(
				"decodeCursor(%q) = %v, %q; encoded again as %q it decodes to %v, %q, %v",
				cursor,
				at,
				id,
				again,
				at2,
				id2,
				err,
			)
		}
	})
}

// FuzzDecodeOutboxCursor decodes arbitrary outbox page cursors: refused with ErrBadCursor, or a
// positive ID that encodes to a cursor decoding to the same ID.
func FuzzDecodeOutboxCursor(f *testing.F) {
	f.Add(encodeOutboxCursor(1))
	f.Add(encodeOutboxCursor(1 << 62))
	f.Add("b3V0Ym94Oi0x") // outbox:-1
	f.Add("b3V0Ym94Og")   // outbox:
	f.Add("")
	f.Fuzz(func(t *testing.T, cursor string) {
		id, err := decodeOutboxCursor(cursor)
		if err != nil {
			if !errors.Is(err, ErrBadCursor) {
				t.Fatalf("decodeOutboxCursor(%q): %v, want ErrBadCursor", cursor, err)
			}
			return
		}
		if id < 1 {
			t.Fatalf("decodeOutboxCursor(%q) = %d, want a positive ID", cursor, id)
		}
		if back, err := decodeOutboxCursor(encodeOutboxCursor(id)); err != nil || back != id {
			t.Fatalf("decodeOutboxCursor(%q) = %d, encoded again it decodes to %d, %v", cursor, id, back, err)
		}
	})
}
