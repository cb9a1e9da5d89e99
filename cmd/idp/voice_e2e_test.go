package main

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	"github.com/eu-health-idp/idp/config"
	"github.com/eu-health-idp/idp/idp/notify"
	"github.com/eu-health-idp/idp/idp/store"
)

var voiceDigitsRe = regexp.MustCompile(`class="voice-digits">([0-9 ]+)<`)

// shownDigits returns the digits a voice page asks the person to type.
func shownDigits(t *testing.T, p page) string {
	t.Helper()
	m := voiceDigitsRe.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no digits on the page (status %d):\n%s", p.status, p.body)
	}
	return strings.ReplaceAll(m[1], " ", "")
}

// pollStatus is what the page's script would learn from /login/status.
func (b *browser) pollStatus(flowID string) string {
	b.t.Helper()
	p := b.get(b.idp.issuer + "/login/status?flow=" + url.QueryEscape(flowID))
	var s struct {
		Status string `json:"status"`
	}
	if p.status != http.StatusOK || json.Unmarshal([]byte(p.body), &s) != nil {
		b.t.Fatalf("GET /login/status: %d %s", p.status, p.body)
	}
	return s.Status
}

// keypad types digits during the call ref on the dev outbox's keypad. The
// page shows a keypad only until the call has its entry, so this posts
// the form directly: a second entry must be refused by the server, not
// just hidden by the page.
func (b *browser) keypad(ref, digits string) {
	b.t.Helper()
	b.get(b.idp.issuer + "/dev/outbox") // sets the CSRF cookie
	u, _ := url.Parse(b.idp.issuer)
	var token string
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == "idp_csrf" {
			token = c.Value
		}
	}
	p := b.postForm(b.idp.issuer+"/dev/outbox/keypad", url.Values{"csrf": {token}, "ref": {ref}, "digits": {digits}})
	if p.status != http.StatusOK {
		b.t.Fatalf("keypad: status %d\n%s", p.status, p.body)
	}
}

// hangup ends call ref on the dev outbox without typing, as a busy line or
// an unanswered phone would.
func (b *browser) hangup(ref string) {
	b.t.Helper()
	p := b.get(b.idp.issuer + "/dev/outbox")
	if p = b.submit(p, "/dev/outbox/keypad", map[string]string{"ref": ref, "op": "hangup"}, nil); p.status != http.StatusOK {
		b.t.Fatalf("hang up: status %d\n%s", p.status, p.body)
	}
}

// saveRecoveryCodes confirms the recovery codes set up after a first
// factor, when the page shows them.
func (b *browser) saveRecoveryCodes(p page) page {
	b.t.Helper()
	if len(recoveryRe.FindAllString(p.body, -1)) != 10 {
		return p
	}
	return b.submit(p, "/login/enroll", map[string]string{"op": "finish"}, url.Values{"saved": {"on"}})
}

// TestVoiceCallFactor: seed 003 through the pages, on both databases: a
// landline typed without its trunk 0 is verified by a call whose keypad
// entry the page learns by polling, then a login by voice call, with a
// wrong entry and a second call.
func TestVoiceCallFactor(t *testing.T) {
	for _, backend := range testBackends {
		t.Run(backend, func(t *testing.T) { voiceCall(t, backend) })
	}
}

func voiceCall(t *testing.T, backend string) {
	idp := startIdP(t, backend, devMode)
	idp.addFactorClients()
	mfa := idp.rp(clientMFA, rpSecret)
	const landline = "+31201234567"

	t.Run("a landline is set up with a call and the keypad, and the token says tel", func(t *testing.T) {
		b := idp.browser()
		v := oauth2.GenerateVerifier()
		p := b.submitLogin(b.get(mfa.authCodeURL("s", "n", v)), testUser, testPassword)
		if !isEnrolOffer(p) || !strings.Contains(p.body, `value="voice"`) {
			t.Fatalf("want the enrol offer with voice (status %d):\n%s", p.status, p.body)
		}
		p = b.submit(p, "/login/enroll", map[string]string{"op": "begin", "factor": "voice"}, nil)
		if !strings.Contains(p.body, `name="country"`) || !strings.Contains(p.body, `value="NL" selected`) {
			t.Fatalf("want a country selector on the Netherlands:\n%s", p.body)
		}
		_, flowID := p.hidden(t)
		p = b.submit(p, "/login/enroll", map[string]string{"op": "finish", "step": "verify"}, url.Values{"country": {"NL"}, "phone": {"201234567"}})
		digits := shownDigits(t, p)
		if len(digits) != 2 {
			t.Errorf("want 2 digits by default, got %q", digits)
		}
		call, n := b.lastMessage("voice", landline)
		// The call names the service (the issuer, whose address has
		// digits of its own); the digits to type are not said.
		spoken := strings.ReplaceAll(call.Body, strings.TrimPrefix(idp.issuer, "http://"), "")
		if n != 1 || call.Digits != 2 || !strings.HasPrefix(call.Ref, "voice.") || strings.Contains(spoken, digits) {
			t.Errorf("want one call gathering 2 digits that does not say them, got %d: %+v", n, call)
		}
		if s := b.pollStatus(flowID); s != "pending" {
			t.Errorf("before the keypad the status is %q", s)
		}
		b.keypad(call.Ref, digits)
		if s := b.pollStatus(flowID); s != "answered" {
			t.Fatalf("after the keypad the status is %q", s)
		}
		if got, _ := b.lastMessage("voice", landline); got.Reply == "" {
			t.Error("the call said nothing after the keypress")
		}
		p = b.submit(p, "/login/enroll", map[string]string{"op": "finish", "step": "check"}, nil)
		p = b.saveRecoveryCodes(p)
		c := mfa.token(t, p.callback(t), v)
		if c.ACR != "http://eidas.europa.eu/LoA/substantial" || !slices.Contains(c.AMR, "tel") || !slices.Contains(c.AMR, "pwd") {
			t.Errorf("acr %s amr %v", c.ACR, c.AMR)
		}
	})

	t.Run("a login by voice call: a wrong entry fails the call, the next call with the right digits logs in", func(t *testing.T) {
		b := idp.browser()
		v := oauth2.GenerateVerifier()
		p := b.submitLogin(b.get(mfa.authCodeURL("s", "n", v)), testUser, testPassword)
		if !isFactorPage(p) {
			t.Fatalf("want the voice page (status %d):\n%s", p.status, p.body)
		}
		_, flowID := p.hidden(t)
		digits := shownDigits(t, p)
		call, _ := b.lastMessage("voice", landline)
		wrong := "00"
		if digits == wrong {
			wrong = "11"
		}
		b.keypad(call.Ref, wrong)
		if s := b.pollStatus(flowID); s != "failed" {
			t.Fatalf("after a wrong entry the status is %q", s)
		}
		// Counted against the person, as a wrong code on a page is.
		events, err := idp.st.ListAudit(context.Background(), idp.user.ID, 20)
		if err != nil || !slices.ContainsFunc(events, func(e store.AuditEvent) bool {
			return e.Event == "factor.failure" && e.Detail["factor"] == "voice"
		}) {
			t.Errorf("no factor.failure audit event for the wrong keypad entry (%v)", err)
		}
		b.keypad(call.Ref, digits) // one entry per call: too late
		if s := b.pollStatus(flowID); s != "failed" {
			t.Fatalf("a second entry on the same call changed the status to %q", s)
		}
		p = b.submit(p, "/login/factor", nil, nil)
		if p.status != http.StatusBadRequest && p.status != http.StatusUnprocessableEntity {
			t.Errorf("checking after a wrong entry: status %d", p.status)
		}
		p = b.get(idp.issuer + flowURLPath(flowID))
		p = b.submit(p, "/login/factor", map[string]string{"op": "resend"}, nil)
		again, n := b.lastMessage("voice", landline)
		if again.Ref == call.Ref || n < 3 {
			t.Fatalf("want a second call, got %d calls, ref %s", n, again.Ref)
		}
		// Not answered: the page learns at once, not at the timeout, and
		// offers to call again.
		if s := b.pollStatus(flowID); s != "pending" {
			t.Fatalf("a new call's status is %q", s)
		}
		b.hangup(again.Ref)
		if s := b.pollStatus(flowID); s != "failed" {
			t.Fatalf("after the call ended unanswered the status is %q", s)
		}
		p = b.get(idp.issuer + flowURLPath(flowID))
		p = b.submit(p, "/login/factor", map[string]string{"op": "resend"}, nil)
		again, n = b.lastMessage("voice", landline)
		if n < 4 {
			t.Fatalf("want a third call, got %d calls", n)
		}
		digits = shownDigits(t, p)
		b.keypad(again.Ref, digits)
		p = b.submit(p, "/login/factor", nil, nil)
		c := mfa.token(t, p.callback(t), v)
		if !slices.Contains(c.AMR, "tel") {
			t.Errorf("amr %v", c.AMR)
		}
	})
}

func flowURLPath(id string) string { return "/login?flow=" + url.QueryEscape(id) }

// fakeTwilio speaks Twilio's REST wire format: it records the calls the
// server places.
type fakeTwilio struct {
	mu    sync.Mutex
	calls []url.Values
	auth  []string
}

const (
	twilioSID   = "AC0123456789abcdef0123456789abcdef"
	twilioToken = "twilio-auth-token-for-tests"
	twilioHook  = "https://idp.example.eu/hooks/voice"
)

func (f *fakeTwilio) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	user, pass, _ := r.BasicAuth()
	f.mu.Lock()
	f.auth = append(f.auth, user+":"+pass)
	if r.URL.Path == "/2010-04-01/Accounts/"+twilioSID+"/Calls.json" {
		f.calls = append(f.calls, form)
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, `{"sid":"CA00000000000000000000000000000000","status":"queued"}`)
}

// TestVoiceThroughTwilio: the call goes to Twilio's Calls API with a
// <Gather> whose callback, signed with X-Twilio-Signature, finishes the
// login; unsigned and wrongly signed callbacks are refused and change
// nothing.
func TestVoiceThroughTwilio(t *testing.T) {
	fake := &fakeTwilio{}
	api := httptest.NewServer(fake)
	defer api.Close()
	idp := startIdP(t, "sqlite", devMode, func(c *config.Config) {
		c.Notify.Voice.Transport = "twilio"
		c.Notify.Twilio.AccountSID = twilioSID
		c.Notify.Twilio.AuthToken = twilioToken
		c.Notify.Twilio.From = "+3197010000000"
		c.Notify.Twilio.BaseURL = api.URL
		c.Notify.Twilio.CallbackURL = twilioHook
	})
	idp.addFactorClients()
	mfa := idp.rp(clientMFA, rpSecret)
	b := idp.browser()
	v := oauth2.GenerateVerifier()
	p := b.submitLogin(b.get(mfa.authCodeURL("s", "n", v)), testUser, testPassword)
	p = b.submit(p, "/login/enroll", map[string]string{"op": "begin", "factor": "voice"}, nil)
	_, flowID := p.hidden(t)
	p = b.submit(p, "/login/enroll", map[string]string{"op": "finish", "step": "verify"}, url.Values{"country": {"NL"}, "phone": {"0612345678"}})
	digits := shownDigits(t, p)

	fake.mu.Lock()
	if len(fake.calls) != 1 || fake.auth[0] != twilioSID+":"+twilioToken {
		t.Fatalf("want one authenticated call, got %d (%v)", len(fake.calls), fake.auth)
	}
	form := fake.calls[0]
	fake.mu.Unlock()
	if form.Get("To") != "+31612345678" || form.Get("From") != "+3197010000000" {
		t.Errorf("To %q From %q", form.Get("To"), form.Get("From"))
	}
	var twiml struct {
		Gather struct {
			NumDigits string `xml:"numDigits,attr"`
			Action    string `xml:"action,attr"`
			Say       []struct {
				Language string `xml:"language,attr"`
				Text     string `xml:",chardata"`
			} `xml:"Say"`
		} `xml:"Gather"`
	}
	if err := xml.Unmarshal([]byte(form.Get("Twiml")), &twiml); err != nil {
		t.Fatalf("TwiML: %v\n%s", err, form.Get("Twiml"))
	}
	if twiml.Gather.NumDigits != "2" || !strings.HasPrefix(twiml.Gather.Action, twilioHook+"?ref=voice.") || len(twiml.Gather.Say) == 0 {
		t.Fatalf("gather: %+v", twiml.Gather)
	}
	action, _ := url.Parse(twiml.Gather.Action)

	callback := func(digits, signature string) int {
		params := url.Values{"Digits": {digits}, "CallSid": {"CA00000000000000000000000000000000"}, "AccountSid": {twilioSID}}
		req, _ := http.NewRequest(http.MethodPost, idp.issuer+"/hooks/voice?"+action.RawQuery, strings.NewReader(params.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if signature == "valid" {
			signature = notify.TwilioSignature(twilioToken, twiml.Gather.Action, params)
		}
		if signature != "" {
			req.Header.Set("X-Twilio-Signature", signature)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode == http.StatusOK && !strings.Contains(string(body), "<Say") {
			t.Errorf("a signed callback got no TwiML: %s", body)
		}
		return res.StatusCode
	}
	if got := callback(digits, ""); got != http.StatusForbidden {
		t.Errorf("unsigned callback: %d, want 403", got)
	}
	if got := callback(digits, notify.TwilioSignature("another-token", twiml.Gather.Action, url.Values{"Digits": {digits}})); got != http.StatusForbidden {
		t.Errorf("wrongly signed callback: %d, want 403", got)
	}
	if s := b.pollStatus(flowID); s != "pending" {
		t.Fatalf("refused callbacks changed the status to %q", s)
	}
	if got := callback(digits, "valid"); got != http.StatusOK {
		t.Fatalf("signed callback: %d", got)
	}
	if s := b.pollStatus(flowID); s != "answered" {
		t.Fatalf("after the signed callback the status is %q", s)
	}
	// Twilio then reports the end of the call to the StatusCallback
	// URL given with the call: signed, it is taken and changes nothing
	// for an answered call; unsigned, it is refused.
	statusURL := form.Get("StatusCallback")
	su, err := url.Parse(statusURL)
	if err != nil || su.Query().Get("event") != "ended" || su.Query().Get("ref") != action.Query().Get("ref") {
		t.Fatalf("StatusCallback %q", statusURL)
	}
	ended := func(signed bool) int {
		params := url.Values{"CallStatus": {"completed"}, "CallSid": {"CA00000000000000000000000000000000"}, "AccountSid": {twilioSID}}
		req, _ := http.NewRequest(http.MethodPost, idp.issuer+"/hooks/voice?"+su.RawQuery, strings.NewReader(params.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if signed {
			req.Header.Set("X-Twilio-Signature", notify.TwilioSignature(twilioToken, statusURL, params))
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := ended(false); got != http.StatusForbidden {
		t.Errorf("unsigned status callback: %d, want 403", got)
	}
	if got := ended(true); got != http.StatusNoContent {
		t.Errorf("signed status callback: %d, want 204", got)
	}
	if s := b.pollStatus(flowID); s != "answered" {
		t.Fatalf("the end of an answered call changed the status to %q", s)
	}
	p = b.submit(p, "/login/enroll", map[string]string{"op": "finish", "step": "check"}, nil)
	p = b.saveRecoveryCodes(p)
	c := mfa.token(t, p.callback(t), v)
	if !slices.Contains(c.AMR, "tel") {
		t.Errorf("amr %v", c.AMR)
	}
}
