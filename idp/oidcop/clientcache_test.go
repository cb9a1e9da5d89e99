package oidcop

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/eu-health-idp/idp/idp/store"
)

type countingClients struct {
	store.Clients
	n atomic.Int64
}

func (c *countingClients) ClientByID(ctx context.Context, id string) (*store.Client, error) {
	c.n.Add(1)
	return c.Clients.ClientByID(ctx, id)
}

func TestClientCache(t *testing.T) {
	o := newTestOP(t, nil)
	o.addClient(t, "svc", store.AccessTokenJWT)
	st := &countingClients{Clients: o.st}
	c := newClientCache(testTTL, o.clock.now)
	ctx := context.Background()

	for range 3 {
		if _, err := c.get(ctx, st, "svc"); err != nil {
			t.Fatal(err)
		}
	}
	if n := st.n.Load(); n != 1 {
		t.Fatalf("%d reads within the cache period, want 1", n)
	}
	t.Run("an unknown client is read every time, never cached", func(t *testing.T) {
		before := st.n.Load()
		for range 3 {
			if _, err := c.get(ctx, st, "nobody"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("unknown client: %v", err)
			}
		}
		if st.n.Load()-before != 3 {
			t.Fatal("a miss was cached")
		}
		if len(c.m) != 1 {
			t.Fatalf("cache holds %d entries, want 1", len(c.m))
		}
	})
	t.Run("the client is read again after the cache period", func(t *testing.T) {
		o.clock.add(testTTL)
		before := st.n.Load()
		if _, err := c.get(ctx, st, "svc"); err != nil {
			t.Fatal(err)
		}
		if st.n.Load() != before+1 {
			t.Fatal("an expired entry was served")
		}
	})
	t.Run("ttl 0 caches nothing", func(t *testing.T) {
		c := newClientCache(0, o.clock.now)
		before := st.n.Load()
		c.get(ctx, st, "svc")
		c.get(ctx, st, "svc")
		if st.n.Load() != before+2 {
			t.Fatal("cached with ttl 0")
		}
	})
}
