package notify

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// relay is an in-process SMTP server that records what it receives and
// answers RCPT with rcptErr when set.
type relay struct {
	user, pass string // required credentials; "" = no AUTH offered
	rcptErr    error

	mu   sync.Mutex
	got  []relayed
	auth []string // usernames that logged in
}

// relayed is one message as the relay saw it.
type relayed struct {
	helo string
	tls  bool
	from string
	to   []string
	data []byte
}

func (r *relay) received() []relayed {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]relayed(nil), r.got...)
}

func (r *relay) logins() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.auth)
}

func (r *relay) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &relaySession{relay: r, conn: c}, nil
}

type relaySession struct {
	relay  *relay
	conn   *smtp.Conn
	authed bool
	cur    relayed
}

func (s *relaySession) AuthMechanisms() []string {
	if s.relay.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *relaySession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != s.relay.user || password != s.relay.pass {
			return smtp.ErrAuthFailed
		}
		s.authed = true
		s.relay.mu.Lock()
		s.relay.auth = append(s.relay.auth, username)
		s.relay.mu.Unlock()
		return nil
	}), nil
}

func (s *relaySession) Mail(from string, _ *smtp.MailOptions) error {
	if s.relay.user != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.cur = relayed{helo: s.conn.Hostname(), tls: isTLS, from: from}
	return nil
}

func (s *relaySession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.relay.rcptErr != nil {
		return s.relay.rcptErr
	}
	s.cur.to = append(s.cur.to, to)
	return nil
}

func (s *relaySession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = b
	s.relay.mu.Lock()
	s.relay.got = append(s.relay.got, s.cur)
	s.relay.mu.Unlock()
	return nil
}

func (s *relaySession) Reset()        { s.cur = relayed{} }
func (s *relaySession) Logout() error { return nil }

// selfSigned makes a certificate for 127.0.0.1 and the pool that trusts
// it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test relay"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// startRelay serves r on 127.0.0.1 in mode (TLSStartTLS, TLSImplicit,
// TLSNone, or "plain-only": STARTTLS not offered) and returns the port
// and the roots that trust its certificate.
func startRelay(t *testing.T, r *relay, mode string) (int, *x509.CertPool) {
	t.Helper()
	cert, pool := selfSigned(t)
	srv := smtp.NewServer(r)
	srv.Domain = "relay.test"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.MaxMessageBytes = 1 << 20
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	switch mode {
	case TLSStartTLS:
		srv.TLSConfig = tc
	case TLSImplicit:
		ln = tls.NewListener(ln, tc)
	case TLSNone, "plain-only":
	default:
		t.Fatalf("unknown mode %q", mode)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port, pool
}

func hungarianCode() Message {
	return Message{
		Channel: Email,
		To:      "anna.kovacs@example.hu",
		Ref:     "email.ref-1",
		Lang:    "hu",
		Subject: "Ügyfélkapu+ hitelesítő kód",
		Text:    "A kódja: 123456 (azonosító: 042). Érvényes 5 percig.",
		HTML:    "<p>A kódja: <b>123456</b> (azonosító: 042). Érvényes 5 percig.</p>",
	}
}

// parsedMail is a received message taken apart.
type parsedMail struct {
	header        netmail.Header
	subject       string
	from, replyTo string
	plain, html   string
	contentType   string
}

func parseMail(t *testing.T, data []byte) parsedMail {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("message does not parse: %v\n%s", err, data)
	}
	p := parsedMail{header: msg.Header}
	dec := new(mime.WordDecoder)
	if p.subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		t.Fatalf("Subject does not decode: %v", err)
	}
	if from, err := msg.Header.AddressList("From"); err == nil && len(from) == 1 {
		p.from = from[0].Address
	}
	if rt, err := msg.Header.AddressList("Reply-To"); err == nil && len(rt) == 1 {
		p.replyTo = rt[0].Address
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type: %v", err)
	}
	p.contentType = mt
	if !strings.HasPrefix(mt, "multipart/") {
		body, _ := io.ReadAll(msg.Body)
		p.plain = string(body)
		return p
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("multipart: %v", err)
		}
		pt, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		body, err := io.ReadAll(part) // NextPart undoes quoted-printable
		if err != nil {
			t.Fatal(err)
		}
		switch pt {
		case "text/plain":
			p.plain = string(body)
		case "text/html":
			p.html = string(body)
		default:
			t.Errorf("unexpected part %q", pt)
		}
	}
	return p
}

func TestSMTPSend(t *testing.T) {
	for _, mode := range []string{TLSStartTLS, TLSImplicit, TLSNone} {
		t.Run("over "+mode+" the relay receives one complete message", func(t *testing.T) {
			r := &relay{}
			if mode != TLSNone {
				r.user, r.pass = "idp", "s3cret pass"
			}
			port, roots := startRelay(t, r, mode)
			s, err := NewSMTP(SMTPConfig{
				Host: "127.0.0.1", Port: port, TLS: mode,
				Username: r.user, Password: r.pass,
				From:      "Ügyfélkapu+ <noreply@idp.example>",
				ReplyTo:   "help@idp.example",
				Timeout:   5 * time.Second,
				TLSConfig: &tls.Config{RootCAs: roots},
				HeloName:  "idp.test",
			})
			if err != nil {
				t.Fatal(err)
			}
			m := hungarianCode()
			if err := s.Send(context.Background(), m); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := r.received()
			if len(got) != 1 {
				t.Fatalf("relay received %d messages, want 1", len(got))
			}
			rx := got[0]
			if rx.tls != (mode != TLSNone) {
				t.Errorf("over TLS = %v in mode %s", rx.tls, mode)
			}
			if rx.helo != "idp.test" {
				t.Errorf("EHLO %q, want idp.test", rx.helo)
			}
			if rx.from != "noreply@idp.example" || len(rx.to) != 1 || rx.to[0] != m.To {
				t.Errorf("envelope %q -> %q", rx.from, rx.to)
			}
			if mode != TLSNone && r.logins() != 1 {
				t.Errorf("logged in %d times, want once", r.logins())
			}
			p := parseMail(t, rx.data)
			if p.subject != m.Subject {
				t.Errorf("Subject %q, want %q", p.subject, m.Subject)
			}
			if raw := p.header.Get("Subject"); !strings.HasPrefix(raw, "=?") {
				t.Errorf("raw Subject %q is not RFC 2047 encoded", raw)
			}
			if p.from != "noreply@idp.example" || p.replyTo != "help@idp.example" {
				t.Errorf("From %q, Reply-To %q", p.from, p.replyTo)
			}
			if h := p.header.Get("Content-Language"); h != "hu" {
				t.Errorf("Content-Language %q", h)
			}
			if h := p.header.Get("Auto-Submitted"); h != "auto-generated" {
				t.Errorf("Auto-Submitted %q", h)
			}
			if id := p.header.Get("Message-Id"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@idp.example>") {
				t.Errorf("Message-ID %q", id)
			}
			if p.contentType != "multipart/alternative" {
				t.Errorf("Content-Type %q", p.contentType)
			}
			if strings.TrimRight(p.plain, "\r\n") != m.Text {
				t.Errorf("plain part %q, want %q", p.plain, m.Text)
			}
			if strings.TrimRight(p.html, "\r\n") != m.HTML {
				t.Errorf("HTML part %q, want %q", p.html, m.HTML)
			}
		})
	}

	t.Run("a message without HTML goes as plain text alone", func(t *testing.T) {
		r := &relay{}
		port, _ := startRelay(t, r, TLSNone)
		s, err := NewSMTP(SMTPConfig{Host: "127.0.0.1", Port: port, TLS: TLSNone, From: "noreply@idp.example"})
		if err != nil {
			t.Fatal(err)
		}
		m := hungarianCode()
		m.HTML = ""
		if err := s.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		p := parseMail(t, r.received()[0].data)
		if p.contentType != "text/plain" {
			t.Errorf("Content-Type %q, want text/plain", p.contentType)
		}
		if p.header.Get("Reply-To") != "" {
			t.Errorf("Reply-To %q although none configured", p.header.Get("Reply-To"))
		}
	})
}

func TestSMTPErrors(t *testing.T) {
	send := func(t *testing.T, r *relay, mode string, cfg SMTPConfig) error {
		t.Helper()
		port, roots := startRelay(t, r, mode)
		cfg.Host, cfg.Port = "127.0.0.1", port
		if cfg.TLS == "" {
			cfg.TLS = mode
		}
		if cfg.From == "" {
			cfg.From = "noreply@idp.example"
		}
		if cfg.TLSConfig == nil {
			cfg.TLSConfig = &tls.Config{RootCAs: roots}
		}
		cfg.Timeout = 5 * time.Second
		s, err := NewSMTP(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s.Send(context.Background(), hungarianCode())
	}

	t.Run("451 on RCPT is worth retrying", func(t *testing.T) {
		r := &relay{rcptErr: &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}}
		err := send(t, r, TLSNone, SMTPConfig{})
		if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrUndeliverable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
	})
	t.Run("550 on RCPT is a refused destination", func(t *testing.T) {
		r := &relay{rcptErr: &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}}
		err := send(t, r, TLSNone, SMTPConfig{})
		if !errors.Is(err, ErrUndeliverable) || errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUndeliverable", err)
		}
		if strings.Contains(err.Error(), "anna.kovacs") {
			t.Errorf("error text carries the address: %v", err)
		}
	})
	t.Run("nothing listening is unavailable", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		s, err := NewSMTP(SMTPConfig{Host: "127.0.0.1", Port: port, TLS: TLSNone, From: "noreply@idp.example", Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Send(context.Background(), hungarianCode()); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
	})
	t.Run("a relay whose certificate is not trusted is unavailable and gets no message", func(t *testing.T) {
		r := &relay{user: "idp", pass: "pw"}
		other, _ := selfSigned(t)
		untrusted := x509.NewCertPool()
		untrusted.AddCert(other.Leaf)
		err := send(t, r, TLSStartTLS, SMTPConfig{Username: "idp", Password: "pw", TLSConfig: &tls.Config{RootCAs: untrusted}})
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
		if len(r.received()) != 0 || r.logins() != 0 {
			t.Error("the relay got a login or a message over an unverified connection")
		}
	})
	t.Run("a relay that does not offer STARTTLS is refused before the password is sent", func(t *testing.T) {
		r := &relay{user: "idp", pass: "pw"}
		err := send(t, r, "plain-only", SMTPConfig{TLS: TLSStartTLS, Username: "idp", Password: "pw"})
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
		if len(r.received()) != 0 || r.logins() != 0 {
			t.Error("the relay got a login or a message in clear")
		}
	})
	t.Run("wrong credentials are a configuration error, neither retried nor blamed on the destination", func(t *testing.T) {
		r := &relay{user: "idp", pass: "right"}
		err := send(t, r, TLSImplicit, SMTPConfig{Username: "idp", Password: "wrong"})
		if err == nil || errors.Is(err, ErrUnavailable) || errors.Is(err, ErrUndeliverable) {
			t.Fatalf("err = %v, want a plain permanent error", err)
		}
		t.Logf("error for operators: %v", err)
	})
	t.Run("an SMS is refused", func(t *testing.T) {
		s, err := NewSMTP(SMTPConfig{Host: "127.0.0.1", Port: 25, From: "noreply@idp.example"})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Send(context.Background(), Message{Channel: SMS, To: "+31612345678"}); err == nil {
			t.Fatal("SMTP sent an SMS")
		}
	})
	t.Run("a To that is not an address is undeliverable", func(t *testing.T) {
		s, err := NewSMTP(SMTPConfig{Host: "127.0.0.1", Port: 25, From: "noreply@idp.example"})
		if err != nil {
			t.Fatal(err)
		}
		m := hungarianCode()
		m.To = "not an address\r\nBcc: x@y"
		if err := s.Send(context.Background(), m); !errors.Is(err, ErrUndeliverable) {
			t.Fatalf("err = %v, want ErrUndeliverable", err)
		}
	})
}

func TestNewSMTP(t *testing.T) {
	ok := SMTPConfig{Host: "smtp.example", Port: 587, From: "noreply@idp.example"}
	tests := []struct {
		name   string
		change func(*SMTPConfig)
	}{
		{"a config without host is refused", func(c *SMTPConfig) { c.Host = "" }},
		{"a port out of range is refused", func(c *SMTPConfig) { c.Port = 70000 }},
		{"a From that is not an address is refused", func(c *SMTPConfig) { c.From = "noreply" }},
		{"a Reply-To that is not an address is refused", func(c *SMTPConfig) { c.ReplyTo = "help" }},
		{"an unknown TLS mode is refused", func(c *SMTPConfig) { c.TLS = "ssl" }},
		{"a password without TLS is refused", func(c *SMTPConfig) { c.TLS, c.Username, c.Password = TLSNone, "u", "p" }},
	}
	if _, err := NewSMTP(ok); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.change(&cfg)
			if _, err := NewSMTP(cfg); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
