package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// WebhookSignatureHeader carries the webhook's signature:
// "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>".
const WebhookSignatureHeader = "X-IdP-Signature"

// DefaultWebhookTolerance is how far a webhook's timestamp may be from
// the receiver's clock.
const DefaultWebhookTolerance = 5 * time.Minute

// minWebhookSecret is the shortest secret accepted: 32 characters, what
// `openssl rand -hex 16` prints.
const minWebhookSecret = 32

// WebhookConfig is a carrier gateway (or a bridge to one) that takes
// SMS as signed JSON POSTs.
type WebhookConfig struct {
	// URL must be https, except on a loopback host.
	URL string
	// Secret keys the HMAC; at least 32 characters.
	Secret string
	// HTTPClient defaults to a client with a 10s timeout.
	HTTPClient *http.Client
	// Now stamps created_at and the signature; nil means time.Now.
	Now func() time.Time
}

// Webhook sends SMS as signed JSON to a gateway any carrier can be
// bridged to. The format is in docs/DELIVERY.md.
type Webhook struct {
	url    string
	secret []byte
	client *http.Client
	now    func() time.Time
}

var _ Sender = (*Webhook)(nil)

// NewWebhook checks cfg and returns the sender.
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	var errs []error
	u, err := url.Parse(cfg.URL)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		errs = append(errs, fmt.Errorf("notify: webhook: url %q is not an absolute http(s) URL", cfg.URL))
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		errs = append(errs, fmt.Errorf("notify: webhook: url %q must use https (http only on loopback)", cfg.URL))
	case u.User != nil:
		errs = append(errs, errors.New("notify: webhook: url must not carry credentials; the signature authenticates us"))
	}
	if len(cfg.Secret) < minWebhookSecret {
		errs = append(errs, fmt.Errorf("notify: webhook: secret must be at least %d characters", minWebhookSecret))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: defaultHTTPTimeout}
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Webhook{url: cfg.URL, secret: []byte(cfg.Secret), client: client, now: now}, nil
}

// webhookPayload is the JSON body of one SMS.
type webhookPayload struct {
	ID        string `json:"id"`
	Channel   string `json:"channel"`
	To        string `json:"to"`
	Text      string `json:"text"`
	Lang      string `json:"lang"`
	CreatedAt string `json:"created_at"`
}

// Send POSTs the SMS. A 2xx is delivered; 408, 429, 5xx and network
// failures wrap ErrUnavailable; 401, 403 and 404 mean the gateway does
// not know us (configuration, wraps neither); any other 4xx wraps
// ErrUndeliverable. The Ref is the body's id and the Idempotency-Key,
// so a gateway can drop a retried duplicate.
func (w *Webhook) Send(ctx context.Context, m Message) error {
	if m.Channel != SMS {
		return fmt.Errorf("notify: webhook sends sms, not %q", m.Channel)
	}
	if m.Ref == "" {
		return errors.New("notify: webhook: message without Ref")
	}
	if !e164.MatchString(m.To) {
		return fmt.Errorf("%w: not an E.164 number", ErrUndeliverable)
	}
	now := w.now()
	body, err := json.Marshal(webhookPayload{
		ID: m.Ref, Channel: string(SMS), To: m.To, Text: m.Text, Lang: m.Lang,
		CreatedAt: now.UTC().Format(time.RFC3339),
	})
	if err != nil {
		return fmt.Errorf("notify: webhook: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("notify: webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", m.Ref)
	req.Header.Set(WebhookSignatureHeader, webhookSignature(w.secret, now.Unix(), body))
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: webhook: %w", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBody))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	return httpStatusError(resp.StatusCode, fmt.Sprintf("webhook: HTTP %d", resp.StatusCode))
}

// webhookSignature is the X-IdP-Signature value for body sent at unix.
func webhookSignature(secret []byte, unix int64, body []byte) string {
	t := strconv.FormatInt(unix, 10)
	return "t=" + t + ",v1=" + webhookMAC(secret, t, body)
}

func webhookMAC(secret []byte, t string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	_, _ = io.WriteString(mac, t)
	_, _ = io.WriteString(mac, ".")
	_, _ = mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// VerifyWebhook checks an X-IdP-Signature header against the raw body,
// for receivers written in Go: the timestamp must be within tolerance of
// now (0 means DefaultWebhookTolerance), and one v1 must be
// HMAC-SHA256(secret, "<t>.<body>") in hex. Several v1 entries are
// allowed, so a sender may sign with an old and a new secret while
// they rotate. Every failure is ErrBadSignature.
func VerifyWebhook(secret string, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultWebhookTolerance
	}
	var ts string
	var sigs []string
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			if ts != "" {
				return fmt.Errorf("%w: two timestamps", ErrBadSignature)
			}
			ts = v
		case "v1":
			sigs = append(sigs, strings.ToLower(v))
		}
	}
	if ts == "" || len(sigs) == 0 {
		return fmt.Errorf("%w: no t= or v1= in %s", ErrBadSignature, WebhookSignatureHeader)
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q", ErrBadSignature, ts)
	}
	if d := now.Sub(time.Unix(unix, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: timestamp %s off by %s", ErrBadSignature, ts, d.Round(time.Second))
	}
	want := []byte(webhookMAC([]byte(secret), ts, body))
	ok := false
	for _, s := range sigs {
		if hmac.Equal([]byte(s), want) {
			ok = true
		}
	}
	if !ok {
		return fmt.Errorf("%w: v1 does not match", ErrBadSignature)
	}
	return nil
}
