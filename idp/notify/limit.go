package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/eu-health-idp/idp/idp/phone"
	"github.com/eu-health-idp/idp/idp/store"
)

// DefaultLimitWindow is the window Limit counts in when Limits.Window is
// not set.
const DefaultLimitWindow = time.Hour

// Limits are how many sends each destination, account and client IP may
// cause per Window; 0 means no limit for that scope.
type Limits struct {
	PerDestination, PerAccount, PerIP int
	Window                            time.Duration
}

// The LimitError scopes.
const (
	ScopeDestination = "destination"
	ScopeAccount     = "account"
	ScopeIP          = "ip"
)

// Limit guards next against abuse, SMS pumping above all. An SMS or a
// call to a number whose country phones does not allow is
// ErrCountryNotAllowed (phones nil allows every country). Then every
// send counts one hit per destination, per account (Message.UserID) and
// per IP (Message.IP; IPv6 counted per /64) in rl, which every node
// shares; all three are counted before any is judged, and the first
// scope over its limit is returned as a *LimitError with the window as
// RetryAfter. An empty UserID or IP skips that scope. Limits depend only
// on what the message carries, never on whether an account exists.
// Counter keys hold a hash, never an address, number or IP.
func Limit(next Sender, rl store.RateLimits, phones *phone.Policy, l Limits, now func() time.Time) Sender {
	if l.Window <= 0 {
		l.Window = DefaultLimitWindow
	}
	if now == nil {
		now = time.Now
	}
	return &limit{next: next, rl: rl, phones: phones, l: l, now: now}
}

type limit struct {
	next   Sender
	rl     store.RateLimits
	phones *phone.Policy
	l      Limits
	now    func() time.Time
}

func (s *limit) Send(ctx context.Context, m Message) error {
	if (m.Channel == SMS || m.Channel == Voice) && s.phones != nil && !s.phones.Allowed(m.To) {
		return ErrCountryNotAllowed
	}
	scopes := []struct {
		name, key string
		max       int
	}{
		{ScopeDestination, limitKey("dest", strings.ToLower(strings.TrimSpace(m.To))), s.l.PerDestination},
		{ScopeAccount, limitKey("account", m.UserID), s.l.PerAccount},
		{ScopeIP, limitKey("ip", ipBucket(m.IP)), s.l.PerIP},
	}
	t := s.now()
	var over *LimitError
	for _, sc := range scopes {
		if sc.max <= 0 || sc.key == "" {
			continue
		}
		n, err := s.rl.Hit(ctx, sc.key, s.l.Window, t)
		if err != nil {
			return fmt.Errorf("notify: counting sends: %w", err)
		}
		if n > sc.max && over == nil {
			over = &LimitError{Scope: sc.name, RetryAfter: s.l.Window}
		}
	}
	if over != nil {
		return over
	}
	return s.next.Send(ctx, m)
}

// limitKey is "notify:<scope>:<hash>" for a non-empty value, "" for an
// empty one. The hash (128 bits of SHA-256, the scope mixed in) keeps
// addresses, numbers and IPs out of the counters table.
func limitKey(scope, value string) string {
	if value == "" {
		return ""
	}
	h := sha256.Sum256([]byte("notify/" + scope + "\x00" + value))
	return "notify:" + scope + ":" + hex.EncodeToString(h[:16])
}

// ipBucket is the unit an IP is limited by: the address for IPv4, its
// /64 for IPv6 (one subscriber gets a whole /64), the string as given
// when it does not parse.
func ipBucket(ip string) string {
	ip = strings.TrimSpace(ip)
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, err := a.WithZone("").Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}
