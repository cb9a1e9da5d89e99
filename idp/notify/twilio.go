package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // Twilio signs its callbacks with HMAC-SHA1; we verify, we do not choose.
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// DefaultTwilioBaseURL is Twilio's REST API.
const DefaultTwilioBaseURL = "https://api.twilio.com"

const (
	defaultGatherTimeout = 10 * time.Second
	defaultHTTPTimeout   = 10 * time.Second
	// maxCallbackBody bounds what ParseKeypress reads: Twilio's Gather
	// callback is a few hundred bytes of form fields.
	maxCallbackBody = 64 << 10
	// maxResponseBody bounds what is read of a provider's answer.
	maxResponseBody = 64 << 10
)

// TwilioConfig is a Twilio account used for SMS (Messaging API) and
// voice calls (Programmable Voice).
type TwilioConfig struct {
	AccountSID, AuthToken string
	// From is the E.164 caller id of calls and the SMS sender.
	From string
	// MessagingServiceSID, when set, sends SMS through the messaging
	// service (its sender pool, alphanumeric sender ids) instead of From.
	MessagingServiceSID string
	// BaseURL defaults to https://api.twilio.com; tests point it at
	// httptest.
	BaseURL string
	// CallbackURL is the public absolute URL of our keypad callback route
	// (https://idp.example/hooks/voice), exactly as Twilio will request
	// it. Required for calls. Signatures are checked against it, never
	// against the Host a request arrived with (we sit behind proxies).
	CallbackURL string
	// HTTPClient defaults to a client with a 10s timeout.
	HTTPClient *http.Client
	// GatherTimeout is how long a call waits for the keypad; 0 means 10s.
	GatherTimeout time.Duration
}

// Twilio sends SMS and places calls through Twilio, and authenticates
// the keypad callbacks of those calls.
type Twilio struct {
	cfg           TwilioConfig
	client        *http.Client
	gatherSeconds int
	// callbackAlt is CallbackURL with its default port added or removed:
	// Twilio's own validators accept both spellings, so we do too.
	callbackAlt string
}

var (
	_ Sender    = (*Twilio)(nil)
	_ Callbacks = (*Twilio)(nil)
)

var (
	e164          = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	twilioAccount = regexp.MustCompile(`^AC[0-9a-fA-F]{32}$`)
	twilioService = regexp.MustCompile(`^MG[0-9a-fA-F]{32}$`)
)

// NewTwilio checks cfg and returns the client. It does not call Twilio.
func NewTwilio(cfg TwilioConfig) (*Twilio, error) {
	var errs []error
	if !twilioAccount.MatchString(cfg.AccountSID) {
		errs = append(errs, errors.New("notify: twilio: account_sid must be AC followed by 32 hex digits"))
	}
	if cfg.AuthToken == "" {
		errs = append(errs, errors.New("notify: twilio: auth_token is required"))
	}
	if cfg.From != "" && !e164.MatchString(cfg.From) {
		errs = append(errs, fmt.Errorf("notify: twilio: from %q is not an E.164 number (+31...)", cfg.From))
	}
	if cfg.MessagingServiceSID != "" && !twilioService.MatchString(cfg.MessagingServiceSID) {
		errs = append(errs, errors.New("notify: twilio: messaging_service_sid must be MG followed by 32 hex digits"))
	}
	if cfg.From == "" && cfg.MessagingServiceSID == "" {
		errs = append(errs, errors.New("notify: twilio: from or messaging_service_sid is required"))
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultTwilioBaseURL
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if u, err := url.Parse(cfg.BaseURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, fmt.Errorf("notify: twilio: base_url %q is not an absolute http(s) URL", cfg.BaseURL))
	}
	var alt string
	if cfg.CallbackURL != "" {
		u, err := url.Parse(cfg.CallbackURL)
		switch {
		case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
			errs = append(errs, fmt.Errorf("notify: twilio: callback_url %q is not an absolute http(s) URL", cfg.CallbackURL))
		case u.Scheme == "http" && !isLoopback(u.Hostname()):
			errs = append(errs, fmt.Errorf("notify: twilio: callback_url %q must use https", cfg.CallbackURL))
		case u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(cfg.CallbackURL, "?#"):
			errs = append(errs, fmt.Errorf("notify: twilio: callback_url %q must not carry a query or fragment", cfg.CallbackURL))
		default:
			alt = toggleDefaultPort(u)
		}
	}
	if cfg.GatherTimeout < 0 {
		errs = append(errs, errors.New("notify: twilio: gather timeout must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.GatherTimeout == 0 {
		cfg.GatherTimeout = defaultGatherTimeout
	}
	secs := int((cfg.GatherTimeout + time.Second - 1) / time.Second)
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: defaultHTTPTimeout}
	}
	return &Twilio{cfg: cfg, client: client, gatherSeconds: max(secs, 1), callbackAlt: alt}, nil
}

// toggleDefaultPort returns u's string with the scheme's default port
// added when absent or removed when present; "" when u has another port.
func toggleDefaultPort(u *url.URL) string {
	def := map[string]string{"https": "443", "http": "80"}[u.Scheme]
	v := *u
	switch u.Port() {
	case "":
		v.Host = net.JoinHostPort(u.Hostname(), def)
	case def:
		v.Host = u.Hostname()
		if strings.Contains(v.Host, ":") { // IPv6 literal
			v.Host = "[" + v.Host + "]"
		}
	default:
		return ""
	}
	return v.String()
}

// isLoopback reports whether host is localhost or a loopback address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// voiceLanguages maps a message's language to the Say voice language.
var voiceLanguages = map[string]string{
	"en": "en-GB",
	"pl": "pl-PL",
	"sv": "sv-SE",
	"hu": "hu-HU",
	"nl": "nl-NL",
}

// voiceLanguage is the <Say language> for a BCP 47 tag, en-GB when we
// have no voice for it.
func voiceLanguage(lang string) string {
	primary, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(lang)), "-")
	if v, ok := voiceLanguages[primary]; ok {
		return v
	}
	return "en-GB"
}

// Send sends an SMS (Messages resource) or places a call (Calls
// resource, inline TwiML that says m.Text twice while gathering
// m.Digits keypad digits, then hangs up). Errors wrap ErrUnavailable
// (network, 429, 5xx) or ErrUndeliverable (another 4xx: Twilio refused
// the number); 401/403/404 mean our account settings are wrong and wrap
// neither. Twilio's error code and message stay in the error text, for
// logs only.
func (t *Twilio) Send(ctx context.Context, m Message) error {
	if !e164.MatchString(m.To) {
		return fmt.Errorf("%w: not an E.164 number", ErrUndeliverable)
	}
	form := url.Values{"To": {m.To}}
	var resource string
	switch m.Channel {
	case SMS:
		resource = "Messages.json"
		form.Set("Body", m.Text)
		if t.cfg.MessagingServiceSID != "" {
			form.Set("MessagingServiceSid", t.cfg.MessagingServiceSID)
		} else {
			form.Set("From", t.cfg.From)
		}
	case Voice:
		if t.cfg.CallbackURL == "" {
			return fmt.Errorf("%w: twilio: calls need callback_url", ErrNotConfigured)
		}
		if t.cfg.From == "" {
			return errors.New("notify: twilio: calls need from (a caller id)")
		}
		if m.Digits < 1 {
			return errors.New("notify: twilio: a call must gather at least one digit")
		}
		tw, err := t.gatherTwiML(m)
		if err != nil {
			return err
		}
		resource = "Calls.json"
		form.Set("From", t.cfg.From)
		form.Set("Twiml", tw)
		// Twilio reports the end of the call (by default only that
		// event): a busy line or an unanswered call ends the page's
		// wait at once.
		form.Set("StatusCallback", t.cfg.CallbackURL+"?"+url.Values{"event": {"ended"}, "ref": {m.Ref}}.Encode())
		form.Set("StatusCallbackMethod", http.MethodPost)
	default:
		return fmt.Errorf("notify: twilio sends sms and voice, not %q", m.Channel)
	}
	endpoint := t.cfg.BaseURL + "/2010-04-01/Accounts/" + t.cfg.AccountSID + "/" + resource
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("notify: twilio: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(t.cfg.AccountSID, t.cfg.AuthToken)
	resp, err := t.client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: twilio %s: %w", ErrUnavailable, resource, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	var terr struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(body, &terr)
	detail := fmt.Sprintf("twilio %s: HTTP %d, code %d: %s", resource, resp.StatusCode, terr.Code, terr.Message)
	return httpStatusError(resp.StatusCode, detail)
}

// httpStatusError maps a provider's non-2xx status.
func httpStatusError(status int, detail string) error {
	switch {
	case status == http.StatusRequestTimeout, status == http.StatusTooManyRequests, status >= 500:
		return fmt.Errorf("%w: %s", ErrUnavailable, detail)
	case status == http.StatusUnauthorized, status == http.StatusForbidden, status == http.StatusNotFound:
		// Wrong credentials, account or URL: ours to fix, not the
		// person's number, and no retry will help.
		return fmt.Errorf("notify: provider refused our request: %s", detail)
	case status >= 400:
		return fmt.Errorf("%w: %s", ErrUndeliverable, detail)
	default:
		return fmt.Errorf("%w: %s", ErrUnavailable, detail)
	}
}

// TwiML, built with encoding/xml so that text is always escaped.
type (
	twimlResponse struct {
		XMLName xml.Name `xml:"Response"`
		Verbs   []any
	}
	twimlGather struct {
		XMLName   xml.Name `xml:"Gather"`
		Input     string   `xml:"input,attr"`
		NumDigits int      `xml:"numDigits,attr"`
		Timeout   int      `xml:"timeout,attr"`
		Action    string   `xml:"action,attr"`
		Method    string   `xml:"method,attr"`
		Verbs     []any
	}
	twimlSay struct {
		XMLName  xml.Name `xml:"Say"`
		Language string   `xml:"language,attr"`
		Text     string   `xml:",chardata"`
	}
	twimlPause struct {
		XMLName xml.Name `xml:"Pause"`
		Length  int      `xml:"length,attr"`
	}
	twimlHangup struct {
		XMLName xml.Name `xml:"Hangup"`
	}
)

// gatherTwiML is what a call does: say the text, pause, say it again,
// all while listening for the digits; the keypress goes to the callback
// with the message's Ref. With nothing typed Gather falls through to
// Hangup (no sentence for that: a Message has only one text).
func (t *Twilio) gatherTwiML(m Message) (string, error) {
	lang := voiceLanguage(m.Lang)
	say := twimlSay{Language: lang, Text: m.Text}
	doc := twimlResponse{Verbs: []any{
		twimlGather{
			Input:     "dtmf",
			NumDigits: m.Digits,
			Timeout:   t.gatherSeconds,
			Action:    t.cfg.CallbackURL + "?ref=" + url.QueryEscape(m.Ref),
			Method:    http.MethodPost,
			Verbs:     []any{say, twimlPause{Length: 1}, say},
		},
		twimlHangup{},
	}}
	b, err := xml.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("notify: twilio: twiml: %w", err)
	}
	return string(b), nil
}

// TwilioSignature is Twilio's X-Twilio-Signature for a request to url
// (scheme, host, path and query exactly as Twilio requested it) with
// the POST parameters params: base64(HMAC-SHA1(authToken, url + every
// parameter, sorted by name, as name followed by value)); a repeated
// parameter contributes each distinct value in sorted order, as Twilio's
// own validators (twilio-python) do.
func TwilioSignature(authToken, requestURL string, params url.Values) string {
	mac := hmac.New(sha1.New, []byte(authToken))
	_, _ = io.WriteString(mac, requestURL)
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		vs := slices.Clone(params[k])
		slices.Sort(vs)
		vs = slices.Compact(vs)
		for _, v := range vs {
			_, _ = io.WriteString(mac, k)
			_, _ = io.WriteString(mac, v)
		}
	}
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// ParseKeypress authenticates Twilio's Gather callback and returns the
// Ref from the query and the Digits typed; for the call's status callback
// (event=ended in the query) it returns the Ref with Ended set. The signature is checked over
// the configured CallbackURL plus the request's raw query, and the POST
// parameters; anything unsigned, wrongly signed or not a POST is
// ErrBadSignature.
func (t *Twilio) ParseKeypress(r *http.Request) (Keypress, error) {
	if t.cfg.CallbackURL == "" {
		return Keypress{}, fmt.Errorf("%w: no callback_url configured", ErrBadSignature)
	}
	if r.Method != http.MethodPost {
		return Keypress{}, fmt.Errorf("%w: method %s", ErrBadSignature, r.Method)
	}
	sig := r.Header.Get("X-Twilio-Signature")
	if sig == "" {
		return Keypress{}, fmt.Errorf("%w: no X-Twilio-Signature", ErrBadSignature)
	}
	r.Body = http.MaxBytesReader(nil, r.Body, maxCallbackBody)
	if err := r.ParseForm(); err != nil {
		return Keypress{}, fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	query := ""
	if r.URL.RawQuery != "" {
		query = "?" + r.URL.RawQuery
	}
	ok := false
	for _, base := range []string{t.cfg.CallbackURL, t.callbackAlt} {
		if base == "" {
			continue
		}
		want := TwilioSignature(t.cfg.AuthToken, base+query, r.PostForm)
		if hmac.Equal([]byte(sig), []byte(want)) {
			ok = true
		}
	}
	if !ok {
		return Keypress{}, fmt.Errorf("%w: X-Twilio-Signature does not match", ErrBadSignature)
	}
	q := r.URL.Query()
	if q.Get("event") == "ended" {
		return Keypress{Ref: q.Get("ref"), Ended: true}, nil
	}
	return Keypress{Ref: q.Get("ref"), Digits: r.PostForm.Get("Digits")}, nil
}

// WriteReply answers the callback with TwiML that says rep and hangs up.
func (t *Twilio) WriteReply(w http.ResponseWriter, rep Reply) error {
	b, err := replyTwiML(rep)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(b)
	return err
}

// replyTwiML is the document WriteReply sends: <Say> rep.Text in its
// language, then <Hangup/>.
func replyTwiML(rep Reply) ([]byte, error) {
	var verbs []any
	if rep.Text != "" {
		verbs = append(verbs, twimlSay{Language: voiceLanguage(rep.Lang), Text: rep.Text})
	}
	verbs = append(verbs, twimlHangup{})
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	if err := xml.NewEncoder(&buf).Encode(twimlResponse{Verbs: verbs}); err != nil {
		return nil, fmt.Errorf("notify: twiml: %w", err)
	}
	return buf.Bytes(), nil
}
