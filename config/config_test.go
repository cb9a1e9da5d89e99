package config

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"

	"github.com/eu-health-idp/idp/idp/assurance"
	"github.com/eu-health-idp/idp/idp/policy"
	"github.com/eu-health-idp/idp/idp/store"
)

const examplePath = "idp.example.yaml"

// testKey is base64 of 32 bytes 0x00..0x1f.
var testKey = func() string {
	b := make([]byte, 32)
	for i := range b {
		b[i] = byte(i)
	}
	return base64.StdEncoding.EncodeToString(b)
}()

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTheExampleFileLoadsToTheDefaults(t *testing.T) {
	cfg, err := Load(examplePath, []string{"IDP_SECRETS_ENCRYPTION_KEY=" + testKey})
	if err != nil {
		t.Fatalf("example does not load: %v", err)
	}
	want := Default()
	// The example deliberately leaves the master key empty: a key in an
	// example file ends up in production.
	want.Secrets.EncryptionKey = testKey
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("example differs from Default():\n got %+v\nwant %+v", cfg, want)
	}
}

func TestTheExampleFileDocumentsEveryKey(t *testing.T) {
	k := koanf.New(".")
	if err := k.Load(file.Provider(examplePath), yaml.Parser()); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range Keys() {
		if !k.Exists(key) {
			t.Errorf("%s is missing from %s", key, examplePath)
		}
		if !strings.Contains(string(raw), "Env: "+EnvName(key)) {
			t.Errorf("%s: the comment does not name %s", key, EnvName(key))
		}
	}
}

func TestEveryKeyHasItsOwnEnvironmentVariable(t *testing.T) {
	seen := map[string]string{}
	for _, f := range fields() {
		names := []string{EnvName(f.key)}
		if f.secret {
			names = append(names, EnvName(f.key+fileSuffix))
		}
		for _, n := range names {
			if other, dup := seen[n]; dup {
				t.Errorf("%s and %s both map to %s", other, f.key, n)
			}
			seen[n] = f.key
		}
	}
}

func TestDefaultIsValidInDevMode(t *testing.T) {
	c := Default()
	c.Dev = true
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	pg := Default()
	pg.Database.DSN = "postgres://idp@db/idp"
	if err := pg.Validate(); err == nil || !strings.Contains(err.Error(), "secrets.encryption_key: is required") {
		t.Fatalf("outside dev mode on PostgreSQL the key must be required, got %v", err)
	}
}

func TestEnvironmentOverrides(t *testing.T) {
	keyFile := writeFile(t, "key", "\n  "+testKey+"\n")
	yamlWithFileKey := writeFile(t, "idp.yaml", "secrets:\n  encryption_key_file: "+keyFile+"\n")
	yamlWithKey := writeFile(t, "idp.yaml", "secrets:\n  encryption_key: "+testKey+"\nhttp:\n  trusted_proxies: [10.0.0.0/8]\n")
	otherKey := base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))

	tests := []struct {
		name  string
		path  string
		env   []string
		check func(t *testing.T, c Config)
	}{
		{
			name: "a key with underscores is found from its variable",
			path: yamlWithKey,
			env:  []string{"IDP_DATABASE_MAX_OPEN_CONNS=7", "IDP_DATABASE_MIGRATE_ON_START=false"},
			check: func(t *testing.T, c Config) {
				if c.Database.MaxOpenConns != 7 || c.Database.MigrateOnStart {
					t.Fatalf("got %+v", c.Database)
				}
			},
		},
		{
			name: "a comma-separated list replaces the file's list",
			path: yamlWithKey,
			env:  []string{"IDP_HTTP_TRUSTED_PROXIES=192.168.0.0/16, ::1 ,"},
			check: func(t *testing.T, c Config) {
				if want := []string{"192.168.0.0/16", "::1"}; !slices.Equal(c.HTTP.TrustedProxies, want) {
					t.Fatalf("got %q", c.HTTP.TrustedProxies)
				}
			},
		},
		{
			name: "a duration is parsed from its variable",
			path: yamlWithKey,
			env:  []string{"IDP_TOKENS_ACCESS_TOKEN_LIFETIME=5m30s", "IDP_ARGON=1"},
			check: func(t *testing.T, c Config) {
				if c.Tokens.AccessTokenLifetime != 5*time.Minute+30*time.Second {
					t.Fatalf("got %s", c.Tokens.AccessTokenLifetime)
				}
			},
		},
		{
			name: "a secret is read from the file named by its _FILE variable",
			env:  []string{"IDP_SECRETS_ENCRYPTION_KEY_FILE=" + keyFile},
			check: func(t *testing.T, c Config) {
				if c.Secrets.EncryptionKey != testKey {
					t.Fatalf("got %q", c.Secrets.EncryptionKey)
				}
			},
		},
		{
			name: "a secret is read from the file named by its _file key",
			path: yamlWithFileKey,
			check: func(t *testing.T, c Config) {
				if c.Secrets.EncryptionKey != testKey {
					t.Fatalf("got %q", c.Secrets.EncryptionKey)
				}
			},
		},
		{
			name: "the secret's variable wins over the file's _file key",
			path: yamlWithFileKey,
			env:  []string{"IDP_SECRETS_ENCRYPTION_KEY=" + otherKey},
			check: func(t *testing.T, c Config) {
				if c.Secrets.EncryptionKey != otherKey {
					t.Fatalf("got %q", c.Secrets.EncryptionKey)
				}
			},
		},
		{
			name: "unknown and test variables are ignored",
			path: yamlWithKey,
			env:  []string{"IDP_TEST_DATABASE_URL=postgres://x", "IDP_NOPE=1", "IDP_DATABASE=oops", "PATH=/bin", "IDP_ISSUER"},
			check: func(t *testing.T, c Config) {
				if c.Database.DSN != Default().Database.DSN {
					t.Fatalf("got %q", c.Database.DSN)
				}
			},
		},
		{
			name: "scalar variables override the file and the defaults",
			path: yamlWithKey,
			env: []string{"IDP_ISSUER=https://login.example.eu", "IDP_LOG_LEVEL=debug",
				"IDP_PASSWORDS_ARGON2_PARALLELISM=4", "IDP_HTTP_MAX_BODY_BYTES=131072", "IDP_DEV=true"},
			check: func(t *testing.T, c Config) {
				if c.Issuer != "https://login.example.eu" || c.Log.Level != "debug" ||
					c.Passwords.Argon2Parallelism != 4 || c.HTTP.MaxBodyBytes != 131072 || !c.Dev {
					t.Fatalf("got %+v", c)
				}
			},
		},
		{
			name: "the request timeout and the hashing limits are read from the environment",
			path: yamlWithKey,
			env: []string{"IDP_HTTP_REQUEST_TIMEOUT=4s", "IDP_PASSWORDS_MAX_CONCURRENT_HASHES=1",
				"IDP_PASSWORDS_MAX_QUEUED_HASHES=3", "IDP_PASSWORDS_MAX_HASH_WAIT=750ms"},
			check: func(t *testing.T, c Config) {
				if c.HTTP.RequestTimeout != 4*time.Second || c.Passwords.MaxConcurrentHashes != 1 ||
					c.Passwords.MaxQueuedHashes != 3 || c.Passwords.MaxHashWait != 750*time.Millisecond {
					t.Fatalf("got http %+v passwords %+v", c.HTTP, c.Passwords)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(tt.path, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestEncryptionKeyBytesAcceptsEveryBase64Flavour(t *testing.T) {
	raw := []byte(strings.Repeat("\xfb\xff", 16)) // gives + and / (or - and _)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		c := Default()
		c.Secrets.EncryptionKey = enc.EncodeToString(raw)
		got, err := c.EncryptionKeyBytes()
		if err != nil || string(got) != string(raw) {
			t.Errorf("%q: %v", c.Secrets.EncryptionKey, err)
		}
	}
}

func TestProblemsAreAllReportedWithTheirKeys(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		env  []string
		want []string
	}{
		{
			name: "three bad keys are all named",
			yaml: "issuer: https://idp.example.eu?x=1\ndatabase:\n  dsn: mysql://db\ntokens:\n  auth_code_lifetime: 11m\nsecrets:\n  encryption_key: " + testKey + "\n",
			want: []string{"issuer:", "database.dsn:", "tokens.auth_code_lifetime:"},
		},
		{
			name: "values of the wrong type are named along with validation errors",
			yaml: "database:\n  dsn: postgres://idp@db/idp\n  max_open_conns: many\ntokens:\n  id_token_lifetime: 3600\nlog:\n  level: loud\n  access: some\n",
			want: []string{"database.max_open_conns: must be an integer", "tokens.id_token_lifetime: must be a duration", "log.level:", "log.access:", "secrets.encryption_key: is required"},
		},
		{
			name: "an unknown key in the file is reported",
			yaml: "tokens:\n  acces_token_lifetime: 5m\n",
			env:  []string{"IDP_DEV=1"},
			want: []string{"tokens.acces_token_lifetime: unknown key"},
		},
		{
			name: "a secret given twice is reported",
			yaml: "secrets:\n  encryption_key: " + testKey + "\n  encryption_key_file: /nonexistent\n",
			want: []string{"secrets.encryption_key: set either", "secrets.encryption_key_file:"},
		},
		{
			name: "a bad environment value names the key",
			env:  []string{"IDP_THROTTLE_WINDOW=soon", "IDP_PASSWORDS_ARGON2_PARALLELISM=300", "IDP_DEV=true"},
			want: []string{"throttle.window: must be a duration", "passwords.argon2_parallelism: must be an integer"},
		},
		{
			name: "range rules name their keys",
			yaml: "dev: true\nissuer: http://idp.example.eu/\npasswords:\n  min_length: 6\n  max_length: 32\n  argon2_memory_kib: 4096\nkeys:\n  default_alg: HS256\nhttp:\n  trusted_proxies: [10.0.0.0/33]\nsession:\n  idle_timeout: 24h\nsecrets:\n  encryption_key: c2hvcnQ=\n",
			want: []string{"issuer: must not end with a slash", "passwords.min_length:", "passwords.max_length:", "passwords.argon2_memory_kib:",
				"keys.default_alg:", "http.trusted_proxies:", "session.idle_timeout:", "secrets.encryption_key: must decode to exactly 32 bytes"},
		},
		{
			name: "delivery problems name their keys",
			yaml: "secrets:\n  encryption_key: " + testKey + "\nnotify:\n  email:\n    transport: smtp\n    smtp:\n      tls: maybe\n      from: not-an-address\n  sms:\n    transport: outbox\n  voice:\n    transport: twilio\n  limits:\n    per_ip: -1\nfactors:\n  voice:\n    digits: 0\n  sms:\n    code_lifetime: 20m\nphone:\n  default_country: XX\n",
			want: []string{"notify.email.smtp.host: is required", "notify.email.smtp.tls:", "notify.email.smtp.from:", "notify.sms.transport: outbox is allowed only in dev mode",
				"notify.twilio.account_sid: is required", "notify.twilio.auth_token: is required", "notify.twilio.from: is required", "notify.limits.per_ip:",
				"factors.voice.digits:", "factors.sms.code_lifetime: must not exceed factors.challenge_lifetime", "phone: default country"},
		},
		{
			name: "a request timeout out of range is refused",
			env:  []string{"IDP_DEV=true", "IDP_HTTP_REQUEST_TIMEOUT=500ms"},
			want: []string{"http.request_timeout: must be from 1s to 5m, got 500ms"},
		},
		{
			name: "a request timeout too long is refused",
			env:  []string{"IDP_DEV=true", "IDP_HTTP_REQUEST_TIMEOUT=6m"},
			want: []string{"http.request_timeout: must be from 1s to 5m, got 6m0s"},
		},
		{
			name: "hashing limits that make no sense are refused",
			env: []string{"IDP_DEV=true", "IDP_HTTP_REQUEST_TIMEOUT=3s", "IDP_PASSWORDS_MAX_HASH_WAIT=3s",
				"IDP_PASSWORDS_MAX_QUEUED_HASHES=-1", "IDP_PASSWORDS_MAX_CONCURRENT_HASHES=-2"},
			want: []string{"passwords.max_hash_wait: must be positive and below http.request_timeout (3s), got 3s",
				"passwords.max_queued_hashes:", "passwords.max_concurrent_hashes:"},
		},
		{
			name: "an http issuer on a public host needs dev mode",
			yaml: "issuer: http://idp.example.eu\nsecrets:\n  encryption_key: " + testKey + "\n",
			want: []string{"issuer: must use https"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(writeFile(t, "idp.yaml", tt.yaml), tt.env)
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestAnHTTPIssuerIsFineOnLoopbackWithoutDevMode(t *testing.T) {
	for _, iss := range []string{"http://127.0.0.1:8080", "http://localhost:9000/idp", "http://[::1]:8080"} {
		c := Default()
		c.Issuer = iss
		c.Secrets.EncryptionKey = testKey
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", iss, err)
		}
	}
}

func TestAMissingFileIsAnError(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), nil); err == nil {
		t.Fatal("want an error")
	}
}

func TestTrustedProxiesAcceptSingleAddresses(t *testing.T) {
	c := Default()
	c.HTTP.TrustedProxies = []string{"10.1.2.3", "fd00::/8"}
	got := c.TrustedProxyPrefixes()
	if len(got) != 2 || got[0].String() != "10.1.2.3/32" || got[1].String() != "fd00::/8" {
		t.Fatalf("got %v", got)
	}
}

func TestAssuranceAndPolicies(t *testing.T) {
	const yamlWithPolicies = `
secrets:
  encryption_key: ` + "KEY" + `
assurance:
  nist_prefix: "https://idp.example.eu/nist/"
policy:
  default:
    allowed_factors: [totp, sms]
    grace_days: 7
  clients:
    patient-portal:
      min_acr: substantial
      default_acr: high
      grace_days: 14
    portal.example.eu:
      min_acr: aal2
      remember_device: true
      remember_for: 24h
`
	path := writeFile(t, "idp.yaml", strings.Replace(yamlWithPolicies, "KEY", testKey, 1))

	tests := []struct {
		name  string
		path  string
		env   []string
		check func(t *testing.T, c Config)
	}{
		{
			name: "the defaults give the eIDAS table and the default policy",
			env:  []string{"IDP_DEV=true"},
			check: func(t *testing.T, c Config) {
				tab, err := c.AssuranceTable()
				if err != nil || !reflect.DeepEqual(tab, assurance.DefaultTable("")) {
					t.Fatalf("got %+v, %v", tab, err)
				}
				def, clients, err := c.Policies(tab)
				if err != nil || !reflect.DeepEqual(def, policy.Default()) || clients != nil {
					t.Fatalf("got %+v %+v %v", def, clients, err)
				}
			},
		},
		{
			name: "client policies take short acr names, inherit the default's fields and keep dotted ids",
			path: path,
			check: func(t *testing.T, c Config) {
				tab, err := c.AssuranceTable()
				if err != nil {
					t.Fatal(err)
				}
				def, clients, err := c.Policies(tab)
				if err != nil {
					t.Fatal(err)
				}
				want := store.ClientPolicy{AllowedFactors: []string{"totp", "sms"}, GraceDays: 7, RememberFor: 720 * time.Hour}
				if !reflect.DeepEqual(def, want) {
					t.Fatalf("default %+v", def)
				}
				want = store.ClientPolicy{ClientID: "patient-portal", AllowedFactors: []string{"totp", "sms"}, MinACR: assurance.LoASubstantial,
					DefaultACR: assurance.LoAHigh, GraceDays: 14, RememberFor: 720 * time.Hour}
				if !reflect.DeepEqual(clients["patient-portal"], want) {
					t.Fatalf("patient-portal %+v", clients["patient-portal"])
				}
				want = store.ClientPolicy{ClientID: "portal.example.eu", AllowedFactors: []string{"totp", "sms"}, MinACR: "https://idp.example.eu/nist/aal2",
					GraceDays: 7, RememberDevice: true, RememberFor: 24 * time.Hour}
				if !reflect.DeepEqual(clients["portal.example.eu"], want) || len(clients) != 2 {
					t.Fatalf("portal.example.eu %+v (%d clients)", clients["portal.example.eu"], len(clients))
				}
			},
		},
		{
			name: "client policies in the environment, as JSON, replace the file's",
			path: path,
			env:  []string{`IDP_POLICY_CLIENTS={"kiosk":{"min_acr":"high","factor_max_age":"5m","grace_days":3}}`, "IDP_POLICY_DEFAULT_ALLOWED_FACTORS=passkey, totp"},
			check: func(t *testing.T, c Config) {
				want := map[string]PolicyConfig{"kiosk": {AllowedFactors: []string{"passkey", "totp"}, MinACR: "high", FactorMaxAge: 5 * time.Minute, GraceDays: 3, RememberFor: 720 * time.Hour}}
				if !reflect.DeepEqual(c.Policy.Clients, want) {
					t.Fatalf("got %+v", c.Policy.Clients)
				}
			},
		},
		{
			name: "an empty variable removes the file's client policies",
			path: path,
			env:  []string{"IDP_POLICY_CLIENTS="},
			check: func(t *testing.T, c Config) {
				if c.Policy.Clients != nil {
					t.Fatalf("got %+v", c.Policy.Clients)
				}
			},
		},
		{
			name: "configured levels replace the eIDAS ones and keep the aliases",
			path: writeFile(t, "idp.yaml", "dev: true\nassurance:\n  levels:\n    - {acr: \"urn:example:loa:1\", names: [basic]}\n"+
				"    - acr: urn:example:loa:2\n      names: [strong]\n      min_kinds: 2\n      exclude_amr: [email]\n      max_age: 12h\n      idle: 30m\n"+
				"policy:\n  default:\n    min_acr: strong\n"),
			check: func(t *testing.T, c Config) {
				tab, err := c.AssuranceTable()
				if err != nil {
					t.Fatal(err)
				}
				want := []assurance.Level{
					{ACR: "urn:example:loa:1", Names: []string{"basic"}, Rule: assurance.Rule{MinKinds: 1}},
					{ACR: "urn:example:loa:2", Names: []string{"strong"}, Rule: assurance.Rule{MinKinds: 2, ExcludeAMR: []string{"email"}, MaxAge: 12 * time.Hour, Idle: 30 * time.Minute}},
				}
				if !reflect.DeepEqual(tab.Levels, want) || !reflect.DeepEqual(tab.Aliases, assurance.DefaultTable("").Aliases) {
					t.Fatalf("got %+v", tab)
				}
				def, _, err := c.Policies(tab)
				if err != nil || def.MinACR != "urn:example:loa:2" {
					t.Fatalf("got %+v %v", def, err)
				}
			},
		},
		{
			name: "levels in the environment, as JSON, replace the file's",
			env:  []string{"IDP_DEV=1", `IDP_ASSURANCE_LEVELS=[{"acr":"urn:x:1"},{"acr":"urn:x:2","min_kinds":2,"phishing_resistant":true}]`},
			check: func(t *testing.T, c Config) {
				want := []LevelConfig{{ACR: "urn:x:1", MinKinds: 1}, {ACR: "urn:x:2", MinKinds: 2, PhishingResistant: true}}
				if !reflect.DeepEqual(c.Assurance.Levels, want) {
					t.Fatalf("got %+v", c.Assurance.Levels)
				}
			},
		},
		{
			name: "empty sections are allowed",
			path: writeFile(t, "idp.yaml", "dev: true\npolicy: {}\nfactors: {}\n"),
			check: func(t *testing.T, c Config) {
				if c.Factors.MaxAttempts != 5 {
					t.Fatalf("got %+v", c.Factors)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(tt.path, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestAssuranceAndPolicyProblemsNameTheirKeys(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		env  []string
		want []string
	}{
		{
			name: "a typo in a client policy is an unknown key",
			yaml: "dev: true\npolicy:\n  clients:\n    portal.example.eu:\n      min_arc: substantial\n      grace_days: soon\n",
			want: []string{"policy.clients.portal.example.eu.min_arc: unknown key", "policy.clients.portal.example.eu.grace_days: must be an integer"},
		},
		{
			name: "policy values are checked against the table",
			yaml: "dev: true\npolicy:\n  default:\n    min_acr: medium\n    grace_days: -1\n  clients:\n    p1:\n      min_acr: high\n      default_acr: low\n    p2:\n      remember_device: true\n      remember_for: 0s\n",
			want: []string{`policy.default.min_acr: unknown acr value "medium"`, "policy.default.grace_days: must not be negative",
				"policy.clients.p1.default_acr:", "policy.clients.p1.grace_days: must not be negative", "policy.clients.p2.remember_for:"},
		},
		{
			name: "a bad level names its index and field",
			yaml: "dev: true\nassurance:\n  nist_prefix: \"a b\"\n  levels:\n    - {acr: one, min_kinds: 0, max_age: 1}\n    - {acr: two, names: [one], colour: red}\n    - just-a-string\n",
			want: []string{"assurance.nist_prefix: must not contain spaces", "assurance.levels[0].max_age: must be a duration",
				"assurance.levels[1].colour: unknown key", "assurance.levels[2]: must be a mapping"},
		},
		{
			name: "level rules are validated",
			yaml: "dev: true\nassurance:\n  levels:\n    - {acr: one, min_kinds: 0}\n    - {acr: two, names: [one, mfa], idle: -1s}\n",
			want: []string{"assurance.levels[0].min_kinds: must be 1, 2 or 3", `assurance.levels[1].names: "one" is already used`,
				`assurance.levels[1].names: "mfa" is already used`, "assurance.levels[1].idle: must not be negative"},
		},
		{
			name: "levels must be a list and clients a mapping",
			yaml: "dev: true\nassurance:\n  levels: {a: b}\npolicy:\n  clients: [a]\n",
			want: []string{"assurance.levels: must be a list", "policy.clients: must be a mapping"},
		},
		{
			name: "bad JSON in a variable names the key and the variable",
			env:  []string{"IDP_DEV=true", "IDP_POLICY_CLIENTS={nope"},
			want: []string{"policy.clients: must be JSON in IDP_POLICY_CLIENTS"},
		},
		{
			name: "factor limits are checked",
			yaml: "dev: true\nfactors:\n  max_attempts: 0\n  account_failures: 101\n  account_failure_window: 0s\n  challenge_lifetime: 1h\n  flow_lifetime: 30m\n  totp_issuer: \"a:b\"\n",
			want: []string{"factors.max_attempts:", "factors.account_failures: must be from 1 to 100", "factors.account_failure_window:",
				"factors.challenge_lifetime: must not exceed factors.flow_lifetime", "factors.totp_issuer: must not contain a colon"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.yaml != "" {
				path = writeFile(t, "idp.yaml", tt.yaml)
			}
			_, err := Load(path, tt.env)
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}
