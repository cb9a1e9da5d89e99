package sqlstore

import (
	"encoding/json"
	"fmt"
	"time"
)

// micros is the stored form of a time. The zero time is stored as 0 so that
// "not set" reads naturally in the database; the price is that the instant
// 1970-01-01T00:00:00Z reads back as the zero time.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// fromMicros is the inverse of micros, always in UTC.
func fromMicros(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

// instant is the stored form of a time where every instant, the Unix epoch
// included, must read back as itself (micros maps the epoch to "unset").
// Such columns say "unset" with NULL instead.
func instant(t time.Time) int64 { return t.UnixMicro() }

func fromInstant(v int64) time.Time { return time.UnixMicro(v).UTC() }

func instantPtr(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	v := instant(*t)
	return &v
}

func fromInstantPtr(v *int64) *time.Time {
	if v == nil {
		return nil
	}
	t := fromInstant(*v)
	return &t
}

func microsPtr(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	v := micros(*t)
	return &v
}

func fromMicrosPtr(v *int64) *time.Time {
	if v == nil {
		return nil
	}
	t := fromMicros(*v)
	return &t
}

// nullable stores "" as NULL, for columns that are unique but optional.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// list is the stored form of a string list: JSON text, "[]" for nil and
// empty alike, since the store gives the two no different meaning.
func list(v []string) string {
	if len(v) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(v) // a []string always marshals
	return string(b)
}

// decoder reads JSON columns while a row is mapped, keeping the first error
// so mappers stay a flat list of fields.
type decoder struct{ err error }

// list reads a stored list; empty lists read back as nil.
func (d *decoder) list(s string) []string {
	var v []string
	d.json(s, &v)
	if len(v) == 0 {
		return nil
	}
	return v
}

func (d *decoder) json(s string, v any) {
	if s == "" || d.err != nil {
		return
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		d.err = fmt.Errorf("decode column: %w", err)
	}
}
