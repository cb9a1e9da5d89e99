package oidcop

import (
	"context"
	"sync"
	"time"

	"github.com/eu-health-idp/idp/idp/store"
)

// clientCache keeps registered clients in memory for a short time: every
// token, introspection and revocation request authenticates its client, and
// reading the row each time was a fifth of the cost of a client_credentials
// token. A change to a client (secret, grant types, redirect URIs, removal)
// therefore reaches a node at most ttl later, the same bound the key cache
// gives a rotation. Only clients that exist are cached: unknown ids are
// read every time, so a flood of made-up ids cannot grow the map, and a
// newly registered client works at once.
type clientCache struct {
	ttl time.Duration // 0: no caching
	now func() time.Time

	mu sync.RWMutex
	m  map[string]cachedClient
}

type cachedClient struct {
	c  *store.Client
	at time.Time
}

func newClientCache(ttl time.Duration, now func() time.Time) *clientCache {
	return &clientCache{ttl: ttl, now: now, m: map[string]cachedClient{}}
}

// get returns the client from the cache, or reads it. The returned client
// is shared: callers must not modify it.
func (c *clientCache) get(ctx context.Context, st store.Clients, id string) (*store.Client, error) {
	if c.ttl <= 0 {
		return st.ClientByID(ctx, id)
	}
	now := c.now()
	c.mu.RLock()
	e, ok := c.m[id]
	c.mu.RUnlock()
	if ok && now.Sub(e.at) < c.ttl && !now.Before(e.at) {
		return e.c, nil
	}
	cl, err := st.ClientByID(ctx, id)
	if err != nil {
		if ok {
			c.mu.Lock()
			delete(c.m, id) // removed, or the database is down: do not serve it stale
			c.mu.Unlock()
		}
		return nil, err
	}
	c.mu.Lock()
	c.m[id] = cachedClient{c: cl, at: now}
	c.mu.Unlock()
	return cl, nil
}
