package notify

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const testWebhookSecret = "0123456789abcdef0123456789abcdef-webhook"

// gateway is a carrier gateway that records what it receives.
type gateway struct {
	*httptest.Server
	mu      sync.Mutex
	headers []http.Header
	bodies  [][]byte
	status  int // 0 = 202
}

func newGateway(t *testing.T) *gateway {
	g := &gateway{}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		g.mu.Lock()
		g.headers = append(g.headers, r.Header.Clone())
		g.bodies = append(g.bodies, b)
		status := g.status
		g.mu.Unlock()
		if status == 0 {
			status = http.StatusAccepted
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(g.Close)
	return g
}

func (g *gateway) last(t *testing.T) (http.Header, []byte) {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.bodies) != 1 {
		t.Fatalf("gateway received %d requests, want 1", len(g.bodies))
	}
	return g.headers[0], g.bodies[0]
}

func TestWebhookSend(t *testing.T) {
	sent := time.Date(2025, 3, 14, 9, 26, 53, 0, time.FixedZone("CET", 3600))
	g := newGateway(t)
	wh, err := NewWebhook(WebhookConfig{URL: g.URL + "/sms", Secret: testWebhookSecret, Now: func() time.Time { return sent }})
	if err != nil {
		t.Fatal(err)
	}
	m := Message{Channel: SMS, To: "+31612345678", Ref: "sms.7f3a", Lang: "nl", Text: "Uw code: 123456 \"geldig\" <5 min>", UserID: "u1", IP: "192.0.2.1"}
	if err := wh.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	h, body := g.last(t)

	t.Run("the body carries id, channel, to, text, lang and created_at, nothing else", func(t *testing.T) {
		var got map[string]any
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{
			"id": "sms.7f3a", "channel": "sms", "to": "+31612345678", "text": m.Text,
			"lang": "nl", "created_at": "2025-03-14T08:26:53Z",
		}
		if len(got) != len(want) {
			t.Errorf("body %s has fields beyond %v", body, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %v, want %v", k, got[k], v)
			}
		}
	})
	t.Run("the headers name the content type, the idempotency key and the signature", func(t *testing.T) {
		if ct := h.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		if k := h.Get("Idempotency-Key"); k != m.Ref {
			t.Errorf("Idempotency-Key %q", k)
		}
		if sig := h.Get("X-IdP-Signature"); !strings.HasPrefix(sig, "t=1741940813,v1=") || len(sig) != len("t=1741940813,v1=")+64 {
			t.Errorf("X-IdP-Signature %q", sig)
		}
	})

	sig := h.Get(WebhookSignatureHeader)
	t.Run("VerifyWebhook accepts the request as sent", func(t *testing.T) {
		if err := VerifyWebhook(testWebhookSecret, sig, body, sent.Add(90*time.Second), 5*time.Minute); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("VerifyWebhook accepts a signature next to one made with a rotated-out secret", func(t *testing.T) {
		both := sig + ",v1=" + strings.Repeat("0", 64)
		if err := VerifyWebhook(testWebhookSecret, both, body, sent, 0); err != nil {
			t.Fatal(err)
		}
	})
	tampered := []byte(strings.Replace(string(body), "123456", "654321", 1))
	refused := []struct {
		name   string
		secret string
		header string
		body   []byte
		now    time.Time
	}{
		{"VerifyWebhook refuses a tampered body", testWebhookSecret, sig, tampered, sent},
		{"VerifyWebhook refuses a wrong secret", "another-secret-another-secret-another", sig, body, sent},
		{"VerifyWebhook refuses a timestamp older than the tolerance", testWebhookSecret, sig, body, sent.Add(5*time.Minute + time.Second)},
		{"VerifyWebhook refuses a timestamp from the future", testWebhookSecret, sig, body, sent.Add(-6 * time.Minute)},
		{"VerifyWebhook refuses a missing header", testWebhookSecret, "", body, sent},
		{"VerifyWebhook refuses a header without v1", testWebhookSecret, strings.Split(sig, ",")[0], body, sent},
		{"VerifyWebhook refuses a replayed signature under a new timestamp", testWebhookSecret, "t=1741940900," + strings.Split(sig, ",")[1], body, sent},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			if err := VerifyWebhook(tt.secret, tt.header, tt.body, tt.now, 5*time.Minute); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("err = %v, want ErrBadSignature", err)
			}
		})
	}
}

// The example in docs/DELIVERY.md, so the documentation stays true.
func TestWebhookDocumentedExample(t *testing.T) {
	const (
		secret = "whsec-example-0123456789abcdef0123"
		header = "t=1741940813,v1=651c04f4ed788c1dc7d54c602a457b1b3bfc668ee55ff112f3d8e2aad19858fd"
		body   = `{"id":"sms.01JPA7Z3K9","channel":"sms","to":"+31612345678","text":"Uw inlogcode is 482913. Deel deze code met niemand.","lang":"nl","created_at":"2025-03-14T08:26:53Z"}`
	)
	sent := time.Unix(1741940813, 0)
	t.Run("the documented request verifies", func(t *testing.T) {
		if err := VerifyWebhook(secret, header, []byte(body), sent, 0); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Send produces the documented request byte for byte", func(t *testing.T) {
		g := newGateway(t)
		wh, err := NewWebhook(WebhookConfig{URL: g.URL, Secret: secret, Now: func() time.Time { return sent }})
		if err != nil {
			t.Fatal(err)
		}
		m := Message{Channel: SMS, To: "+31612345678", Ref: "sms.01JPA7Z3K9", Lang: "nl", Text: "Uw inlogcode is 482913. Deel deze code met niemand."}
		if err := wh.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		h, got := g.last(t)
		if string(got) != body || h.Get(WebhookSignatureHeader) != header {
			t.Errorf("sent\n%s\n%s", h.Get(WebhookSignatureHeader), got)
		}
	})
}

func TestWebhookErrors(t *testing.T) {
	sms := Message{Channel: SMS, To: "+31612345678", Ref: "sms.1", Text: "code"}
	for _, tt := range []struct {
		status int
		want   error
		name   string
	}{
		{200, nil, "a 200 is delivered"},
		{204, nil, "a 204 is delivered"},
		{408, ErrUnavailable, "a 408 is unavailable"},
		{429, ErrUnavailable, "a 429 is unavailable"},
		{500, ErrUnavailable, "a 500 is unavailable"},
		{503, ErrUnavailable, "a 503 is unavailable"},
		{400, ErrUndeliverable, "a 400 is undeliverable"},
		{422, ErrUndeliverable, "a 422 is undeliverable"},
		{401, nil, "a 401 is our configuration, neither unavailable nor undeliverable"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := newGateway(t)
			g.mu.Lock()
			g.status = tt.status
			g.mu.Unlock()
			wh, err := NewWebhook(WebhookConfig{URL: g.URL, Secret: testWebhookSecret})
			if err != nil {
				t.Fatal(err)
			}
			err = wh.Send(context.Background(), sms)
			if tt.status < 300 {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, sentinel := range []error{ErrUnavailable, ErrUndeliverable} {
				if errors.Is(err, sentinel) != (tt.want == sentinel) {
					t.Errorf("err = %v, errors.Is(%v) wrong", err, sentinel)
				}
			}
		})
	}
	t.Run("a gateway that is down is unavailable", func(t *testing.T) {
		g := newGateway(t)
		wh, err := NewWebhook(WebhookConfig{URL: g.URL, Secret: testWebhookSecret})
		if err != nil {
			t.Fatal(err)
		}
		g.Close()
		if err := wh.Send(context.Background(), sms); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
	})
	t.Run("calls and emails are refused", func(t *testing.T) {
		wh, err := NewWebhook(WebhookConfig{URL: "https://gw.example/sms", Secret: testWebhookSecret})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []Channel{Voice, Email} {
			if err := wh.Send(context.Background(), Message{Channel: c, To: "+31612345678", Ref: "x"}); err == nil {
				t.Errorf("%s accepted", c)
			}
		}
	})
}

func TestNewWebhook(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  WebhookConfig
		ok   bool
	}{
		{"an https URL is accepted", WebhookConfig{URL: "https://gw.example/sms", Secret: testWebhookSecret}, true},
		{"plain http on loopback is accepted", WebhookConfig{URL: "http://127.0.0.1:9000/sms", Secret: testWebhookSecret}, true},
		{"plain http on localhost is accepted", WebhookConfig{URL: "http://localhost:9000/sms", Secret: testWebhookSecret}, true},
		{"plain http elsewhere is refused", WebhookConfig{URL: "http://gw.example/sms", Secret: testWebhookSecret}, false},
		{"a relative URL is refused", WebhookConfig{URL: "/sms", Secret: testWebhookSecret}, false},
		{"a short secret is refused", WebhookConfig{URL: "https://gw.example/sms", Secret: "short"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewWebhook(tt.cfg)
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v", err)
			}
		})
	}
}
