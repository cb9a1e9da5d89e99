package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cliEnv is one database and the config file the operator CLI runs with.
type cliEnv struct {
	dsn    string
	config string
}

// newCLIEnv returns a fresh database for backend and a config file with an
// encryption key and cheap argon2 parameters (production shape, not dev).
func newCLIEnv(t *testing.T, backend string) cliEnv {
	t.Helper()
	dsn := testDSN(t, backend)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	cfgFile := filepath.Join(t.TempDir(), "idp.yaml")
	yaml := "secrets:\n  encryption_key: \"" + base64.StdEncoding.EncodeToString(key) + "\"\n" +
		"passwords:\n  argon2_memory_kib: 8192\n  argon2_iterations: 1\n" +
		"log:\n  level: warn\n"
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return cliEnv{dsn: dsn, config: cfgFile}
}

// run executes "idp args..." in-process with stdin, adding --config and
// --database, and returns stdout, stderr and the error.
func (e cliEnv) run(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	c := rootCmd()
	c.SetArgs(append(args, "--config", e.config, "--database", e.dsn))
	c.SetIn(strings.NewReader(stdin))
	c.SetOut(&out)
	c.SetErr(&errOut)
	err := c.Execute()
	return out.String(), errOut.String(), err
}

// mustRun is run that fails the test on error.
func (e cliEnv) mustRun(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, errOut, err := e.run(t, stdin, args...)
	if err != nil {
		t.Fatalf("idp %s: %v\nstderr: %s", strings.Join(args, " "), err, errOut)
	}
	return out
}

func decodeJSON[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	return v
}

const cliTestPassword = "correct horse battery staple"

func TestCLIUsers(t *testing.T) {
	for _, backend := range testBackends {
		t.Run(backend, func(t *testing.T) {
			e := newCLIEnv(t, backend)

			t.Run("user add prints the user without any password material", func(t *testing.T) {
				out := e.mustRun(t, cliTestPassword+"\n", "user", "add", "--username", "Alice", "--email", "alice@example.org",
					"--phone", "+31 6 12345678", "--password-stdin", "--json")
				u := decodeJSON[map[string]any](t, out)
				if u["id"] == "" || u["id"] == nil || u["username"] != "alice" || u["email"] != "alice@example.org" {
					t.Errorf("user add --json = %v", u)
				}
				if u["phone"] != "+31612345678" {
					t.Errorf("phone = %v, want E.164 +31612345678", u["phone"])
				}
				low := strings.ToLower(out)
				for _, bad := range []string{"password", "hash", "argon2", cliTestPassword} {
					if strings.Contains(low, bad) {
						t.Errorf("user add output contains %q:\n%s", bad, out)
					}
				}
			})

			t.Run("a duplicate username is refused with a clear message", func(t *testing.T) {
				_, _, err := e.run(t, cliTestPassword+"\n", "user", "add", "--username", "alice", "--email", "other@example.org", "--password-stdin")
				if err == nil || !strings.Contains(err.Error(), "already exists") {
					t.Fatalf("duplicate user add: err = %v, want 'already exists'", err)
				}
			})

			t.Run("weak passwords are refused naming the password", func(t *testing.T) {
				for _, pw := range []string{"short", "password123", "qwertyuiop"} {
					_, _, err := e.run(t, pw+"\n", "user", "add", "--username", "weak", "--email", "weak@example.org", "--password-stdin")
					if err == nil || !strings.Contains(err.Error(), "password") {
						t.Errorf("password %q: err = %v, want one naming password", pw, err)
					}
				}
			})

			t.Run("a password is never taken without --password-stdin", func(t *testing.T) {
				_, _, err := e.run(t, cliTestPassword+"\n", "user", "add", "--username", "bob", "--email", "bob@example.org")
				if err == nil || !strings.Contains(err.Error(), "--password-stdin") {
					t.Fatalf("err = %v, want one naming --password-stdin", err)
				}
			})

			t.Run("an empty stdin is refused", func(t *testing.T) {
				_, _, err := e.run(t, "", "user", "add", "--username", "bob", "--email", "bob@example.org", "--password-stdin")
				if err == nil || !strings.Contains(err.Error(), "password") {
					t.Fatalf("err = %v, want one naming password", err)
				}
			})

			t.Run("user list shows the one user", func(t *testing.T) {
				users := decodeJSON[[]map[string]any](t, e.mustRun(t, "", "user", "list", "--json"))
				if len(users) != 1 || users[0]["username"] != "alice" || users[0]["disabled"] != false {
					t.Fatalf("user list = %v", users)
				}
				text := e.mustRun(t, "", "user", "list")
				if !strings.Contains(text, "USERNAME") || !strings.Contains(text, "alice") {
					t.Errorf("user list (text) = %q", text)
				}
			})

			t.Run("disable and enable flip the flag", func(t *testing.T) {
				u := decodeJSON[map[string]any](t, e.mustRun(t, "", "user", "disable", "--username", "alice", "--json"))
				if u["disabled"] != true {
					t.Errorf("disable --json = %v", u)
				}
				users := decodeJSON[[]map[string]any](t, e.mustRun(t, "", "user", "list", "--json"))
				if users[0]["disabled"] != true {
					t.Errorf("after disable, list = %v", users)
				}
				e.mustRun(t, "", "user", "enable", "--username", "alice")
				users = decodeJSON[[]map[string]any](t, e.mustRun(t, "", "user", "list", "--json"))
				if users[0]["disabled"] != false {
					t.Errorf("after enable, list = %v", users)
				}
			})

			t.Run("disable needs an existing username", func(t *testing.T) {
				if _, _, err := e.run(t, "", "user", "disable"); err == nil || !strings.Contains(err.Error(), "--username") {
					t.Errorf("disable without --username: err = %v", err)
				}
				if _, _, err := e.run(t, "", "user", "disable", "--username", "nobody"); err == nil || !strings.Contains(err.Error(), "nobody") {
					t.Errorf("disable unknown user: err = %v", err)
				}
			})
		})
	}
}

func TestCLIClients(t *testing.T) {
	for _, backend := range testBackends {
		t.Run(backend, func(t *testing.T) {
			e := newCLIEnv(t, backend)
			var generated string

			t.Run("a confidential client gets a generated secret, printed once", func(t *testing.T) {
				out := e.mustRun(t, "", "client", "add", "--id", "portal", "--redirect-uri", "https://portal.example.org/cb",
					"--redirect-uri", "http://127.0.0.1:9000/cb", "--post-logout-redirect-uri", "https://portal.example.org/", "--json")
				c := decodeJSON[map[string]any](t, out)
				generated, _ = c["client_secret"].(string)
				if c["id"] != "portal" || c["public"] != false || len(generated) < minClientSecretLen {
					t.Fatalf("client add --json = %v", c)
				}
				if uris, _ := c["redirect_uris"].([]any); len(uris) != 2 {
					t.Errorf("redirect_uris = %v", c["redirect_uris"])
				}
			})

			t.Run("the text form prints the secret too", func(t *testing.T) {
				out := e.mustRun(t, "", "client", "add", "--id", "portal-text", "--redirect-uri", "https://portal.example.org/cb")
				if !strings.Contains(out, "shown once") {
					t.Errorf("client add = %q, want the secret shown once", out)
				}
			})

			t.Run("client list never shows a secret", func(t *testing.T) {
				out := e.mustRun(t, "", "client", "list", "--json")
				cs := decodeJSON[[]map[string]any](t, out)
				if len(cs) != 2 {
					t.Fatalf("client list = %v", cs)
				}
				if strings.Contains(out, generated) || strings.Contains(out, "secret") {
					t.Errorf("client list --json leaks a secret:\n%s", out)
				}
				if text := e.mustRun(t, "", "client", "list"); strings.Contains(text, generated) {
					t.Errorf("client list leaks the secret:\n%s", text)
				}
			})

			t.Run("a duplicate id is refused", func(t *testing.T) {
				_, _, err := e.run(t, "", "client", "add", "--id", "portal", "--redirect-uri", "https://portal.example.org/cb")
				if err == nil || !strings.Contains(err.Error(), "already exists") {
					t.Errorf("err = %v", err)
				}
			})

			t.Run("--secret-stdin takes the secret from stdin and prints nothing of it", func(t *testing.T) {
				secret := strings.Repeat("s3cr3t-", 6)
				out := e.mustRun(t, secret+"\n", "client", "add", "--id", "given", "--secret-stdin", "--redirect-uri", "https://given.example.org/cb", "--json")
				if strings.Contains(out, secret) || strings.Contains(out, "client_secret") {
					t.Errorf("client add --secret-stdin echoes the secret:\n%s", out)
				}
			})

			t.Run("a short secret on stdin is refused", func(t *testing.T) {
				_, _, err := e.run(t, "tooshort\n", "client", "add", "--id", "short", "--secret-stdin", "--redirect-uri", "https://short.example.org/cb")
				if err == nil || !strings.Contains(err.Error(), "secret") {
					t.Errorf("err = %v, want one naming the secret", err)
				}
			})

			t.Run("a public client has no secret", func(t *testing.T) {
				c := decodeJSON[map[string]any](t, e.mustRun(t, "", "client", "add", "--id", "spa", "--public", "--redirect-uri", "http://localhost:5173/cb", "--json"))
				if c["public"] != true {
					t.Errorf("public = %v", c["public"])
				}
				if _, ok := c["client_secret"]; ok {
					t.Errorf("a public client got a secret: %v", c)
				}
			})

			t.Run("http redirect URIs are refused unless loopback", func(t *testing.T) {
				_, _, err := e.run(t, "", "client", "add", "--id", "plain", "--redirect-uri", "http://portal.example.org/cb")
				if err == nil || !strings.Contains(err.Error(), "--redirect-uri") {
					t.Errorf("err = %v, want one naming --redirect-uri", err)
				}
				cs := decodeJSON[[]map[string]any](t, e.mustRun(t, "", "client", "list", "--json"))
				for _, c := range cs {
					if c["id"] == "plain" {
						t.Errorf("refused client was stored")
					}
				}
			})

			t.Run("a redirect URI is required", func(t *testing.T) {
				_, _, err := e.run(t, "", "client", "add", "--id", "none")
				if err == nil || !strings.Contains(err.Error(), "--redirect-uri") {
					t.Errorf("err = %v", err)
				}
			})
		})
	}
}

func TestCLIKeys(t *testing.T) {
	for _, backend := range testBackends {
		t.Run(backend, func(t *testing.T) {
			e := newCLIEnv(t, backend)
			type key struct {
				Kid       string  `json:"kid"`
				Alg       string  `json:"alg"`
				RetiredAt *string `json:"retired_at"`
			}
			first := decodeJSON[[]key](t, e.mustRun(t, "", "keys", "rotate", "--json"))
			if len(first) != 2 {
				t.Fatalf("keys rotate = %v, want one key per algorithm", first)
			}
			second := decodeJSON[[]key](t, e.mustRun(t, "", "keys", "rotate", "--json"))
			if len(second) != 2 {
				t.Fatalf("keys rotate = %v", second)
			}
			for i := range second {
				if second[i].Kid == "" || second[i].Kid == first[i].Kid || second[i].Alg != first[i].Alg {
					t.Errorf("rotation %d: %+v after %+v, want a new kid of the same alg", i, second[i], first[i])
				}
			}
			listed := decodeJSON[[]key](t, e.mustRun(t, "", "keys", "list", "--json"))
			byKid := map[string]key{}
			for _, k := range listed {
				byKid[k.Kid] = k
			}
			for _, k := range first {
				if l, ok := byKid[k.Kid]; !ok || l.RetiredAt == nil {
					t.Errorf("old key %s: listed %v, retired %v; want still published and retired", k.Kid, ok, l.RetiredAt)
				}
			}
			for _, k := range second {
				if l, ok := byKid[k.Kid]; !ok || l.RetiredAt != nil {
					t.Errorf("new key %s: listed %v, retired %v; want published, not retired", k.Kid, ok, l.RetiredAt)
				}
			}
			text := e.mustRun(t, "", "keys", "list")
			if !strings.Contains(text, "KID") || !strings.Contains(text, second[0].Kid) {
				t.Errorf("keys list = %q", text)
			}
		})
	}
}

func TestCLIEncryptionKeyRequiredWithPostgres(t *testing.T) {
	dsn := testDSN(t, "postgres")
	var out, errOut bytes.Buffer
	c := rootCmd()
	c.SetArgs([]string{"client", "add", "--id", "x", "--redirect-uri", "https://x.example.org/cb", "--database", dsn})
	c.SetIn(strings.NewReader(""))
	c.SetOut(&out)
	c.SetErr(&errOut)
	t.Setenv("IDP_SECRETS_ENCRYPTION_KEY", "")
	err := c.Execute()
	if err == nil || !strings.Contains(err.Error(), "secrets.encryption_key") {
		t.Fatalf("client add on PostgreSQL without a key: err = %v, want one naming secrets.encryption_key", err)
	}
}

func TestDemoIssuer(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:8080": "http://127.0.0.1:8080",
		":8080":          "http://127.0.0.1:8080",
		"0.0.0.0:9000":   "http://127.0.0.1:9000",
		"[::]:9000":      "http://127.0.0.1:9000",
		"localhost:8080": "http://localhost:8080",
	} {
		if got, err := demoIssuer(in); err != nil || got != want {
			t.Errorf("demoIssuer(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := demoIssuer("8080"); err == nil {
		t.Error("a listen address without a port separator was accepted")
	}
}
