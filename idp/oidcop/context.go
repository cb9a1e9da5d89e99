package oidcop

import (
	"context"
	"net/http"
	"sync"

	"github.com/eu-health-idp/idp/idp/store"
)

type ctxKey int

const (
	ctxClaimsParam ctxKey = iota
	ctxRequestClient
	ctxSessionCookie
)

// requestClient is filled in by storage methods that learn which client a
// token request belongs to; SigningKey reads it to pick the client's alg.
// op gives SigningKey only a context, so the holder travels in it.
//
// It also carries whether a storage call found the database unreachable:
// the provider's writers then answer 503 instead of what op made of the
// error (invalid_client, invalid_grant, active:false, or a 500 with the
// driver's words).
type requestClient struct {
	mu          sync.Mutex
	alg         string
	unavailable bool
	// user is the user a storage call of this request already read (the
	// refresh grant checks the user is enabled, then the ID token needs
	// its claims): read once per request, never across requests.
	user *store.User
}

func (h *requestClient) setUser(u *store.User) {
	h.mu.Lock()
	h.user = u
	h.mu.Unlock()
}

// userByID returns the user read earlier in this request, or nil.
func (h *requestClient) userByID(id string) *store.User {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.user != nil && h.user.ID == id {
		return h.user
	}
	return nil
}

func (h *requestClient) markUnavailable() {
	h.mu.Lock()
	h.unavailable = true
	h.mu.Unlock()
}

func (h *requestClient) isUnavailable() bool {
	if h == nil {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.unavailable
}

func (h *requestClient) set(alg string) {
	h.mu.Lock()
	h.alg = alg
	h.mu.Unlock()
}

func (h *requestClient) get() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.alg
}

func clientHolder(ctx context.Context) *requestClient {
	h, _ := ctx.Value(ctxRequestClient).(*requestClient)
	return h
}

// WithSessionCookie stores the raw SSO cookie value in the context, for
// end_session, which must end the browser's session and sees only a context.
func WithSessionCookie(ctx context.Context, raw string) context.Context {
	return context.WithValue(ctx, ctxSessionCookie, raw)
}

func sessionCookie(ctx context.Context) string {
	s, _ := ctx.Value(ctxSessionCookie).(string)
	return s
}

func claimsParam(ctx context.Context) string {
	s, _ := ctx.Value(ctxClaimsParam).(string)
	return s
}

// interceptor runs in front of every op endpoint: it captures the raw
// "claims" authorization parameter (op does not parse it) and installs the
// per-request client holder. It reads the query only, never the body, so
// op's own ParseForm still sees an untouched request; on /authorize, which
// also accepts POST, it calls ParseForm itself, which op then reuses.
func (p *Provider) interceptor(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if clientHolder(ctx) == nil { // Handler installs it; tests may call op directly
			ctx = context.WithValue(ctx, ctxRequestClient, &requestClient{})
		}
		c := r.URL.Query().Get("claims")
		if r.URL.Path == "/authorize" && r.Method == http.MethodPost && r.ParseForm() == nil {
			c = r.Form.Get("claims")
		}
		if c != "" {
			ctx = context.WithValue(ctx, ctxClaimsParam, c)
		}
		if p.cookieName != "" {
			if ck, err := r.Cookie(p.cookieName); err == nil {
				ctx = WithSessionCookie(ctx, ck.Value)
			}
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
