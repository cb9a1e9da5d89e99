package notify

import (
	"context"
	"encoding/xml"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testAccountSID = "AC0123456789abcdef0123456789abcdef"
	testAuthToken  = "f00dbabe-test-token"
	testServiceSID = "MG0123456789abcdef0123456789abcdef"
	testCallback   = "https://idp.example/hooks/voice"
)

// twilioRequest is one call to the fake Twilio REST API.
type twilioRequest struct {
	method, path string
	user, pass   string
	basicAuth    bool
	contentType  string
	form         url.Values
}

// fakeTwilio speaks Twilio's REST wire format: form-encoded POSTs with
// HTTP basic auth, 201 with a JSON resource, errors as JSON with code
// and message.
type fakeTwilio struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []twilioRequest
	status int    // 0 = 201
	body   string // error body when status is set
}

func newFakeTwilio(t *testing.T) *fakeTwilio {
	f := &fakeTwilio{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		user, pass, ok := r.BasicAuth()
		f.mu.Lock()
		f.reqs = append(f.reqs, twilioRequest{
			method: r.Method, path: r.URL.Path, user: user, pass: pass, basicAuth: ok,
			contentType: r.Header.Get("Content-Type"), form: r.PostForm,
		})
		status, body := f.status, f.body
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if status != 0 {
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
			return
		}
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"sid": "SM0123456789abcdef0123456789abcdef", "status": "queued"}`))
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeTwilio) requests() []twilioRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.reqs)
}

func (f *fakeTwilio) fail(status int, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status, f.body = status, body
}

func newTestTwilio(t *testing.T, baseURL string, change func(*TwilioConfig)) *Twilio {
	t.Helper()
	cfg := TwilioConfig{
		AccountSID: testAccountSID, AuthToken: testAuthToken,
		From: "+46101234567", BaseURL: baseURL, CallbackURL: testCallback,
		GatherTimeout: 15 * time.Second,
	}
	if change != nil {
		change(&cfg)
	}
	tw, err := NewTwilio(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tw
}

// Parsed TwiML.
type (
	tSay struct {
		Language string `xml:"language,attr"`
		Text     string `xml:",chardata"`
	}
	tGather struct {
		Input     string `xml:"input,attr"`
		NumDigits string `xml:"numDigits,attr"`
		Timeout   string `xml:"timeout,attr"`
		Action    string `xml:"action,attr"`
		Method    string `xml:"method,attr"`
		Say       []tSay `xml:"Say"`
		Pause     []struct {
			Length string `xml:"length,attr"`
		} `xml:"Pause"`
	}
	tResponse struct {
		XMLName xml.Name  `xml:"Response"`
		Gather  *tGather  `xml:"Gather"`
		Say     []tSay    `xml:"Say"`
		Hangup  *struct{} `xml:"Hangup"`
	}
)

// elements lists the element names of doc in document order.
func elements(t *testing.T, doc string) []string {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(doc))
	var names []string
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		if se, ok := tok.(xml.StartElement); ok {
			names = append(names, se.Name.Local)
		}
	}
	return names
}

func parseTwiML(t *testing.T, doc string) tResponse {
	t.Helper()
	var r tResponse
	if err := xml.Unmarshal([]byte(doc), &r); err != nil {
		t.Fatalf("TwiML does not parse: %v\n%s", err, doc)
	}
	return r
}

func TestTwilioSMS(t *testing.T) {
	t.Run("an SMS is a form POST to the account's Messages resource with basic auth", func(t *testing.T) {
		f := newFakeTwilio(t)
		tw := newTestTwilio(t, f.URL, nil)
		m := Message{Channel: SMS, To: "+46701234572", Ref: "sms.r1", Lang: "sv", Text: "Din kod: 123456 & giltig i 5 minuter"}
		if err := tw.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		reqs := f.requests()
		if len(reqs) != 1 {
			t.Fatalf("%d requests, want 1", len(reqs))
		}
		r := reqs[0]
		if r.method != http.MethodPost || r.path != "/2010-04-01/Accounts/"+testAccountSID+"/Messages.json" {
			t.Errorf("%s %s", r.method, r.path)
		}
		if !r.basicAuth || r.user != testAccountSID || r.pass != testAuthToken {
			t.Errorf("basic auth %v %q:%q", r.basicAuth, r.user, r.pass)
		}
		if r.contentType != "application/x-www-form-urlencoded" {
			t.Errorf("Content-Type %q", r.contentType)
		}
		want := url.Values{"To": {m.To}, "From": {"+46101234567"}, "Body": {m.Text}}
		if r.form.Encode() != want.Encode() {
			t.Errorf("form %v, want %v", r.form, want)
		}
	})
	t.Run("with a messaging service the SMS names the service instead of From", func(t *testing.T) {
		f := newFakeTwilio(t)
		tw := newTestTwilio(t, f.URL, func(c *TwilioConfig) { c.MessagingServiceSID = testServiceSID })
		if err := tw.Send(context.Background(), Message{Channel: SMS, To: "+46701234572", Text: "kod"}); err != nil {
			t.Fatal(err)
		}
		form := f.requests()[0].form
		if form.Get("MessagingServiceSid") != testServiceSID || form.Has("From") {
			t.Errorf("form %v", form)
		}
	})
	t.Run("an email is refused without calling Twilio", func(t *testing.T) {
		f := newFakeTwilio(t)
		tw := newTestTwilio(t, f.URL, nil)
		if err := tw.Send(context.Background(), Message{Channel: Email, To: "+46701234572"}); err == nil {
			t.Fatal("Twilio sent an email")
		}
		if err := tw.Send(context.Background(), Message{Channel: SMS, To: "0701234572"}); !errors.Is(err, ErrUndeliverable) {
			t.Fatalf("a number not in E.164: err = %v, want ErrUndeliverable", err)
		}
		if n := len(f.requests()); n != 0 {
			t.Errorf("%d requests reached Twilio", n)
		}
	})
}

func TestTwilioCall(t *testing.T) {
	f := newFakeTwilio(t)
	tw := newTestTwilio(t, f.URL, nil)
	m := Message{
		Channel: Voice, To: "+48221234567", Ref: "voice.0a1b&ref=x y", Lang: "pl", Digits: 2,
		Text: "Wpisz <4> & 7 na klawiaturze",
	}
	if err := tw.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	r := f.requests()[0]
	t.Run("a call is a form POST to the Calls resource with To, From and inline Twiml", func(t *testing.T) {
		if r.path != "/2010-04-01/Accounts/"+testAccountSID+"/Calls.json" {
			t.Errorf("path %s", r.path)
		}
		if !r.basicAuth || r.user != testAccountSID || r.pass != testAuthToken {
			t.Errorf("basic auth %q:%q", r.user, r.pass)
		}
		if r.form.Get("To") != m.To || r.form.Get("From") != "+46101234567" || r.form.Get("Twiml") == "" || r.form.Has("Url") {
			t.Errorf("form %v", r.form)
		}
	})
	t.Run("the call's end is reported to the callback URL with the ref and event=ended", func(t *testing.T) {
		u, err := url.Parse(r.form.Get("StatusCallback"))
		if err != nil || u.Scheme+"://"+u.Host+u.Path != testCallback || u.Query().Get("ref") != m.Ref || u.Query().Get("event") != "ended" {
			t.Errorf("StatusCallback %q", r.form.Get("StatusCallback"))
		}
		if r.form.Get("StatusCallbackMethod") != http.MethodPost {
			t.Errorf("StatusCallbackMethod %q", r.form.Get("StatusCallbackMethod"))
		}
	})
	doc := r.form.Get("Twiml")
	tr := parseTwiML(t, doc)
	t.Run("the TwiML gathers the digits, says the text twice with a pause, then hangs up", func(t *testing.T) {
		got := elements(t, doc)
		want := []string{"Response", "Gather", "Say", "Pause", "Say", "Hangup"}
		if !slices.Equal(got, want) {
			t.Fatalf("elements %v, want %v", got, want)
		}
		g := tr.Gather
		if g.Input != "dtmf" || g.NumDigits != "2" || g.Timeout != "15" || g.Method != "POST" {
			t.Errorf("Gather %+v", g)
		}
		if len(g.Pause) != 1 || g.Pause[0].Length != "1" {
			t.Errorf("Pause %+v", g.Pause)
		}
		for _, s := range g.Say {
			if s.Language != "pl-PL" || s.Text != m.Text {
				t.Errorf("Say %+v, want pl-PL %q", s, m.Text)
			}
		}
	})
	t.Run("the action is the callback URL with the ref escaped into its query", func(t *testing.T) {
		action := tr.Gather.Action
		u, err := url.Parse(action)
		if err != nil {
			t.Fatal(err)
		}
		if base, _, _ := strings.Cut(action, "?"); base != testCallback {
			t.Errorf("action base %q", base)
		}
		if q := u.Query(); len(q) != 1 || q.Get("ref") != m.Ref {
			t.Errorf("action query %v, want only ref=%q", q, m.Ref)
		}
	})
	t.Run("markup characters in the text are escaped, not interpreted", func(t *testing.T) {
		if !strings.Contains(doc, "Wpisz &lt;4&gt; &amp; 7") {
			t.Errorf("text not escaped in %s", doc)
		}
		if strings.Contains(doc, "<4>") {
			t.Errorf("raw markup in %s", doc)
		}
	})
	t.Run("languages without a voice fall back to British English", func(t *testing.T) {
		for lang, want := range map[string]string{"de": "en-GB", "": "en-GB", "nl-BE": "nl-NL", "HU": "hu-HU", "sv": "sv-SE", "en": "en-GB"} {
			if got := voiceLanguage(lang); got != want {
				t.Errorf("voiceLanguage(%q) = %q, want %q", lang, got, want)
			}
		}
	})
	t.Run("a call without a callback URL is not configured", func(t *testing.T) {
		tw := newTestTwilio(t, f.URL, func(c *TwilioConfig) { c.CallbackURL = "" })
		if err := tw.Send(context.Background(), m); !errors.Is(err, ErrNotConfigured) {
			t.Fatalf("err = %v, want ErrNotConfigured", err)
		}
	})
}

func TestTwilioErrors(t *testing.T) {
	sms := Message{Channel: SMS, To: "+31612345678", Text: "code"}
	tests := []struct {
		name        string
		status      int
		body        string
		want        error
		wantInError string
	}{
		{
			name:   "an invalid number (400, code 21211) is undeliverable",
			status: 400, body: `{"code": 21211, "message": "The 'To' number is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}`,
			want: ErrUndeliverable, wantInError: "21211",
		},
		{name: "a 503 is unavailable", status: 503, body: `{"code": 20500, "message": "Internal Server Error", "status": 503}`, want: ErrUnavailable, wantInError: "503"},
		{name: "a 429 is unavailable", status: 429, body: `{"code": 20429, "message": "Too Many Requests", "status": 429}`, want: ErrUnavailable, wantInError: "20429"},
		{name: "a 401 is our configuration, neither unavailable nor undeliverable", status: 401, body: `{"code": 20003, "message": "Authenticate", "status": 401}`, wantInError: "20003"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeTwilio(t)
			f.fail(tt.status, tt.body)
			err := newTestTwilio(t, f.URL, nil).Send(context.Background(), sms)
			if err == nil {
				t.Fatal("no error")
			}
			for _, sentinel := range []error{ErrUndeliverable, ErrUnavailable} {
				if errors.Is(err, sentinel) != (tt.want == sentinel) {
					t.Errorf("err = %v; errors.Is(%v) = %v", err, sentinel, !(tt.want == sentinel))
				}
			}
			if !strings.Contains(err.Error(), tt.wantInError) {
				t.Errorf("err %q does not carry %q for the logs", err, tt.wantInError)
			}
		})
	}
	t.Run("Twilio unreachable is unavailable", func(t *testing.T) {
		f := newFakeTwilio(t)
		tw := newTestTwilio(t, f.URL, nil)
		f.Close()
		if err := tw.Send(context.Background(), sms); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
	})
}

// keypressRequest is Twilio's Gather callback as it reaches us behind a
// proxy: an internal host, the public URL only in the signature.
func keypressRequest(query string, form url.Values, signature string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "http://10.0.0.7:8080/hooks/voice?"+query, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if signature != "" {
		r.Header.Set("X-Twilio-Signature", signature)
	}
	return r
}

func TestTwilioParseKeypress(t *testing.T) {
	tw := newTestTwilio(t, "https://api.twilio.test", nil)
	query := "ref=" + url.QueryEscape("voice.0a1b&x")
	form := url.Values{
		"AccountSid": {testAccountSID}, "CallSid": {"CA0123456789abcdef0123456789abcdef"},
		"Digits": {"47"}, "From": {"+46101234567"}, "To": {"+48221234567"}, "CallStatus": {"in-progress"},
	}
	good := TwilioSignature(testAuthToken, testCallback+"?"+query, form)

	t.Run("a callback signed over the public URL returns the ref and the digits", func(t *testing.T) {
		kp, err := tw.ParseKeypress(keypressRequest(query, form, good))
		if err != nil {
			t.Fatal(err)
		}
		if kp.Ref != "voice.0a1b&x" || kp.Digits != "47" {
			t.Errorf("keypress %+v", kp)
		}
	})
	t.Run("the call's status callback, signed, says the call ended", func(t *testing.T) {
		q := "event=ended&" + query
		status := url.Values{"AccountSid": {testAccountSID}, "CallSid": {"CA0123456789abcdef0123456789abcdef"}, "CallStatus": {"no-answer"}}
		kp, err := tw.ParseKeypress(keypressRequest(q, status, TwilioSignature(testAuthToken, testCallback+"?"+q, status)))
		if err != nil {
			t.Fatal(err)
		}
		if kp.Ref != "voice.0a1b&x" || !kp.Ended || kp.Digits != "" {
			t.Errorf("status callback %+v", kp)
		}
		if _, err := tw.ParseKeypress(keypressRequest(q, status, good)); !errors.Is(err, ErrBadSignature) {
			t.Errorf("a status callback with another request's signature: %v", err)
		}
	})
	t.Run("a signature over the URL with the default port spelled out is accepted too", func(t *testing.T) {
		sig := TwilioSignature(testAuthToken, "https://idp.example:443/hooks/voice?"+query, form)
		if _, err := tw.ParseKeypress(keypressRequest(query, form, sig)); err != nil {
			t.Fatal(err)
		}
	})

	tampered := url.Values{}
	for k, v := range form {
		tampered[k] = v
	}
	tampered.Set("Digits", "12")
	wrongHost := httptest.NewRequest(http.MethodPost, "https://evil.example/hooks/voice?"+query, strings.NewReader(form.Encode()))
	wrongHost.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	wrongHost.Header.Set("X-Twilio-Signature", TwilioSignature(testAuthToken, "https://evil.example/hooks/voice?"+query, form))
	get := httptest.NewRequest(http.MethodGet, "http://10.0.0.7:8080/hooks/voice?"+query, nil)
	get.Header.Set("X-Twilio-Signature", TwilioSignature(testAuthToken, testCallback+"?"+query, nil))

	refused := []struct {
		name string
		req  *http.Request
	}{
		{"an unsigned callback is refused", keypressRequest(query, form, "")},
		{"a callback signed with another token is refused", keypressRequest(query, form, TwilioSignature("another-token", testCallback+"?"+query, form))},
		{"tampered Digits are refused", keypressRequest(query, tampered, good)},
		{"a tampered ref is refused", keypressRequest("ref=voice.other", form, good)},
		{"a signature over another host than the callback URL is refused", wrongHost},
		{"a GET is refused even when its URL is signed", get},
		{"garbage in the signature header is refused", keypressRequest(query, form, "not base64 at all")},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			if kp, err := tw.ParseKeypress(tt.req); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("ParseKeypress = %+v, %v; want ErrBadSignature", kp, err)
			}
		})
	}
}

// Twilio's published request-validation example (Twilio's security docs
// and the RequestValidator tests of twilio-php and twilio-csharp): auth
// token 12345, this URL and these POST parameters.
func TestTwilioSignatureDocumentedExample(t *testing.T) {
	const docURL = "https://mycompany.com/myapp.php?foo=1&bar=2"
	params := url.Values{
		"CallSid": {"CA1234567890ABCDE"},
		"Caller":  {"+14158675309"},
		"Digits":  {"1234"},
		"From":    {"+14158675309"},
		"To":      {"+18005551212"},
	}
	t.Run("the signature matches Twilio's documented value", func(t *testing.T) {
		if got := TwilioSignature("12345", docURL, params); got != "RSOYDt4T1cUTdK1PDd93/VVr8B8=" {
			t.Errorf("TwilioSignature = %q", got)
		}
	})
	t.Run("repeated parameters sign each distinct value in sorted order as Twilio's validators do", func(t *testing.T) {
		rep := url.Values{"Sid": {"CA123"}, "SidAccount": {"AC123"}, "Digits": {"5678", "1234", "1234"}}
		if got := TwilioSignature("12345", docURL, rep); got != "IK+Dwps556ElfBT0I3Rgjkr1wJU=" {
			t.Errorf("TwilioSignature = %q", got)
		}
	})
	t.Run("ParseKeypress accepts the documented request with and without the default port", func(t *testing.T) {
		tw := newTestTwilio(t, "https://api.twilio.test", func(c *TwilioConfig) { c.AuthToken = "12345"; c.CallbackURL = "https://mycompany.com/myapp.php" })
		// The php library's vector for the same request signed over
		// https://mycompany.com:443/myapp.php?foo=1&bar=2.
		for _, sig := range []string{"RSOYDt4T1cUTdK1PDd93/VVr8B8=", "kvajT1Ptam85bY51eRf/AJRuM3w="} {
			r := httptest.NewRequest(http.MethodPost, "http://backend/myapp.php?foo=1&bar=2", strings.NewReader(params.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("X-Twilio-Signature", sig)
			kp, err := tw.ParseKeypress(r)
			if err != nil {
				t.Fatalf("signature %s: %v", sig, err)
			}
			if kp.Digits != "1234" {
				t.Errorf("Digits %q", kp.Digits)
			}
		}
	})
}

func TestTwilioWriteReply(t *testing.T) {
	tw := newTestTwilio(t, "https://api.twilio.test", nil)
	rec := httptest.NewRecorder()
	if err := tw.WriteReply(rec, Reply{Text: "Dziękujemy <ok> & do widzenia", Lang: "pl"}); err != nil {
		t.Fatal(err)
	}
	t.Run("the reply is TwiML that says the text in its language and hangs up", func(t *testing.T) {
		if ct := rec.Header().Get("Content-Type"); ct != "text/xml" {
			t.Errorf("Content-Type %q", ct)
		}
		if rec.Code != http.StatusOK {
			t.Errorf("status %d", rec.Code)
		}
		body := rec.Body.String()
		if got, want := elements(t, body), []string{"Response", "Say", "Hangup"}; !slices.Equal(got, want) {
			t.Fatalf("elements %v, want %v", got, want)
		}
		r := parseTwiML(t, body)
		if len(r.Say) != 1 || r.Say[0].Language != "pl-PL" || r.Say[0].Text != "Dziękujemy <ok> & do widzenia" {
			t.Errorf("Say %+v", r.Say)
		}
		if r.Hangup == nil {
			t.Error("no Hangup")
		}
	})
}

func TestNewTwilio(t *testing.T) {
	ok := TwilioConfig{AccountSID: testAccountSID, AuthToken: "t", From: "+46101234567", CallbackURL: testCallback}
	if _, err := NewTwilio(ok); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	tests := []struct {
		name   string
		change func(*TwilioConfig)
	}{
		{"an account SID that is not AC+32 hex is refused", func(c *TwilioConfig) { c.AccountSID = "AC123/../x" }},
		{"a missing auth token is refused", func(c *TwilioConfig) { c.AuthToken = "" }},
		{"a From that is not E.164 is refused", func(c *TwilioConfig) { c.From = "0701234567" }},
		{"neither From nor a messaging service is refused", func(c *TwilioConfig) { c.From = "" }},
		{"a plain-http callback URL on a public host is refused", func(c *TwilioConfig) { c.CallbackURL = "http://idp.example/hooks/voice" }},
		{"a callback URL with a query is refused", func(c *TwilioConfig) { c.CallbackURL = testCallback + "?a=1" }},
		{"a relative callback URL is refused", func(c *TwilioConfig) { c.CallbackURL = "/hooks/voice" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.change(&cfg)
			if _, err := NewTwilio(cfg); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
