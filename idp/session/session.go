// Package session keeps the browser's single sign-on session: a random
// cookie whose SHA-256 names a server-side row holding what the person has
// proved. Rows live in the database, so any node can serve any request.
package session

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/eu-health-idp/idp/idp/security"
	"github.com/eu-health-idp/idp/idp/store"
)

// Manager issues, reads and ends SSO sessions.
type Manager struct {
	st         store.Sessions
	cookieName string
	lifetime   time.Duration
	idle       time.Duration
	secure     bool
	now        func() time.Time
}

// NewManager returns a manager. secure marks the cookie Secure (https issuer).
func NewManager(st store.Sessions, cookieName string, lifetime, idle time.Duration, secure bool, now func() time.Time) *Manager {
	return &Manager{st: st, cookieName: cookieName, lifetime: lifetime, idle: idle, secure: secure, now: now}
}

// CookieName is the name of the SSO cookie.
func (m *Manager) CookieName() string { return m.cookieName }

// Load returns the live session named by the request's cookie, or nil. A
// session idle for longer than the idle timeout is dead.
func (m *Manager) Load(ctx context.Context, r *http.Request) (*store.Session, error) {
	c, err := r.Cookie(m.cookieName)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	now := m.now()
	s, err := m.st.SessionByID(ctx, security.HashToken(c.Value), now)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if m.idle > 0 && now.Sub(s.LastSeenAt) > m.idle {
		return nil, nil
	}
	return s, nil
}

// Touch records activity, keeping the session from going idle.
func (m *Manager) Touch(ctx context.Context, s *store.Session) error {
	s.LastSeenAt = m.now()
	return m.st.TouchSession(ctx, s.ID, s.LastSeenAt)
}

// Start records proof for userID in a session with a new id (every login
// and step-up gets one, against fixation), replacing the request's current
// session. Proofs of the same person are kept, so a step-up adds to what
// was proved; a proof of the same factor replaces the older one.
func (m *Manager) Start(ctx context.Context, w http.ResponseWriter, r *http.Request, prev *store.Session, userID string, proof store.Proof) (*store.Session, error) {
	now := m.now()
	raw := security.RandomToken(32) // 256 bits
	s := &store.Session{
		ID: security.HashToken(raw), UserID: userID, AuthTime: proof.At,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(m.lifetime),
	}
	oldID := ""
	if prev != nil {
		oldID = prev.ID
		if prev.UserID == userID {
			s.CreatedAt, s.ExpiresAt = prev.CreatedAt, prev.ExpiresAt
			s.Proofs = slices.DeleteFunc(slices.Clone(prev.Proofs), func(p store.Proof) bool { return p.Factor == proof.Factor })
		}
	} else if c, err := r.Cookie(m.cookieName); err == nil && c.Value != "" {
		oldID = security.HashToken(c.Value)
	}
	s.Proofs = append(s.Proofs, proof)
	if err := m.st.ReplaceSession(ctx, oldID, s); err != nil {
		return nil, err
	}
	http.SetCookie(w, &http.Cookie{
		Name: m.cookieName, Value: raw, Path: "/", HttpOnly: true, Secure: m.secure,
		SameSite: http.SameSiteLaxMode,
	})
	return s, nil
}

// Clear removes the cookie from the browser.
func (m *Manager) Clear(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: m.cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: m.secure,
		SameSite: http.SameSiteLaxMode,
	})
}
