package main

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/eu-health-idp/idp/config"
)

// devMode turns on dev mode: every channel's transport is the dev outbox.
func devMode(c *config.Config) { c.Dev = true }

// outboxMessage is one entry of GET /dev/outbox as JSON.
type outboxMessage struct {
	ID          int64     `json:"id"`
	Channel     string    `json:"channel"`
	Destination string    `json:"destination"`
	Subject     string    `json:"subject"`
	Body        string    `json:"body"`
	HTML        string    `json:"html"`
	Ref         string    `json:"ref"`
	Lang        string    `json:"lang"`
	Digits      int       `json:"digits"`
	Reply       string    `json:"reply"`
	Time        time.Time `json:"time"`
}

// outbox reads the dev outbox as JSON, oldest first.
func (b *browser) outbox() []outboxMessage {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.idp.issuer+"/dev/outbox", nil)
	req.Header.Set("Accept", "application/json")
	p := b.do(req)
	if p.status != http.StatusOK {
		b.t.Fatalf("GET /dev/outbox: %d\n%s", p.status, p.body)
	}
	var out struct {
		Messages []outboxMessage `json:"messages"`
	}
	if err := json.Unmarshal([]byte(p.body), &out); err != nil {
		b.t.Fatalf("GET /dev/outbox: %v\n%s", err, p.body)
	}
	return out.Messages
}

// lastMessage returns the newest outbox message of channel to dest, and
// how many there are.
func (b *browser) lastMessage(channel, dest string) (outboxMessage, int) {
	b.t.Helper()
	var last outboxMessage
	n := 0
	for _, m := range b.outbox() {
		if m.Channel == channel && m.Destination == dest {
			last, n = m, n+1
		}
	}
	if n == 0 {
		b.t.Fatalf("no %s to %s in the dev outbox", channel, dest)
	}
	return last, n
}

var sixDigits = regexp.MustCompile(`\b[0-9]{6}\b`)

// codeIn returns the only 6-digit code in text.
func codeIn(t *testing.T, text string) string {
	t.Helper()
	m := sixDigits.FindAllString(text, -1)
	if len(m) != 1 {
		t.Fatalf("want exactly one 6-digit code in %q, found %v", text, m)
	}
	return m[0]
}

// TestDevOutboxOnlyInDevMode: the outbox shows every code sent, so it must
// not exist outside dev mode; in dev mode it answers as a page and as JSON.
func TestDevOutboxOnlyInDevMode(t *testing.T) {
	t.Run("without dev mode /dev/outbox does not exist", func(t *testing.T) {
		idp := startIdP(t, "sqlite")
		b := idp.browser()
		for _, accept := range []string{"text/html", "application/json"} {
			req, _ := http.NewRequest(http.MethodGet, idp.issuer+"/dev/outbox", nil)
			req.Header.Set("Accept", accept)
			if p := b.do(req); p.status != http.StatusNotFound {
				t.Errorf("Accept %s: got %d, want 404", accept, p.status)
			}
		}
		req, _ := http.NewRequest(http.MethodPost, idp.issuer+"/dev/outbox/keypad", strings.NewReader("ref=voice.c.x.1&digits=12"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if p := b.do(req); p.status != http.StatusNotFound && p.status != http.StatusMethodNotAllowed {
			t.Errorf("POST /dev/outbox/keypad: got %d, want 404", p.status)
		}
		// Nor, with no voice provider configured, its callback route.
		req, _ = http.NewRequest(http.MethodPost, idp.issuer+"/hooks/voice?ref=voice.c.x.1", strings.NewReader("Digits=12"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if p := b.do(req); p.status != http.StatusNotFound {
			t.Errorf("POST /hooks/voice without a voice provider: got %d, want 404", p.status)
		}
	})
	t.Run("in dev mode it is a page and JSON, empty at first", func(t *testing.T) {
		idp := startIdP(t, "sqlite", devMode)
		b := idp.browser()
		if got := b.outbox(); len(got) != 0 {
			t.Errorf("a new outbox has %d messages", len(got))
		}
		p := b.get(idp.issuer + "/dev/outbox")
		if p.status != http.StatusOK || !strings.Contains(p.body, "Dev outbox") {
			t.Errorf("page: %d\n%s", p.status, p.body)
		}
	})
}
