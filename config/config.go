package config

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"

	"github.com/eu-health-idp/idp/idp/assurance"
	"github.com/eu-health-idp/idp/idp/policy"
	"github.com/eu-health-idp/idp/idp/store"
)

// EnvPrefix starts the name of every environment variable that overrides a key.
const EnvPrefix = "IDP_"

// fileSuffix marks the key (or variable) naming a file that holds a secret.
const fileSuffix = "_file"

// Config is the whole configuration. The koanf tags are the YAML keys; a
// field tagged secret:"true" also accepts <key>_file.
type Config struct {
	// Issuer is the OIDC issuer URL, also the base of every endpoint.
	Issuer string `koanf:"issuer"`
	// Listen is the TCP address the HTTP server binds.
	Listen string `koanf:"listen"`
	// Dev turns on the dev outbox and relaxes the https rule for the issuer.
	Dev bool `koanf:"dev"`
	Log struct {
		Level  string `koanf:"level"`  // debug|info|warn|error
		Format string `koanf:"format"` // json|text
		Access string `koanf:"access"` // all|errors|none: which requests get an access-log line
	} `koanf:"log"`
	Database struct {
		DSN            string `koanf:"dsn"` // sqlite:PATH or postgres:// URL
		MaxOpenConns   int    `koanf:"max_open_conns"`
		MigrateOnStart bool   `koanf:"migrate_on_start"`
	} `koanf:"database"`
	Secrets struct {
		// EncryptionKey is the master key (base64 of 32 bytes) from which
		// security.DeriveKey derives every purpose's key.
		EncryptionKey string `koanf:"encryption_key" secret:"true"`
	} `koanf:"secrets"`
	Passwords struct {
		Argon2MemoryKiB       uint32 `koanf:"argon2_memory_kib"`
		Argon2Iterations      uint32 `koanf:"argon2_iterations"`
		Argon2Parallelism     uint8  `koanf:"argon2_parallelism"`
		MinLength             int    `koanf:"min_length"`
		MinLengthPasswordOnly int    `koanf:"min_length_password_only"`
		MaxLength             int    `koanf:"max_length"`
		MaxConcurrentHashes   int    `koanf:"max_concurrent_hashes"` // 0 = GOMAXPROCS
		// MaxQueuedHashes may wait for one of those slots; one more login
		// is shed with a 503 at once. 0 = 8 per slot.
		MaxQueuedHashes int `koanf:"max_queued_hashes"`
		// MaxHashWait is how long a hash waits for a slot before it is
		// shed.
		MaxHashWait time.Duration `koanf:"max_hash_wait"`
	} `koanf:"passwords"`
	Tokens struct {
		AccessTokenLifetime  time.Duration `koanf:"access_token_lifetime"`
		IDTokenLifetime      time.Duration `koanf:"id_token_lifetime"`
		RefreshTokenLifetime time.Duration `koanf:"refresh_token_lifetime"`
		AuthCodeLifetime     time.Duration `koanf:"auth_code_lifetime"`
		AuthRequestLifetime  time.Duration `koanf:"auth_request_lifetime"`
	} `koanf:"tokens"`
	Keys struct {
		DefaultAlg string        `koanf:"default_alg"` // ES256|RS256
		CacheTTL   time.Duration `koanf:"cache_ttl"`   // how long a node may serve a stale key set
	} `koanf:"keys"`
	Session struct {
		CookieName  string        `koanf:"cookie_name"`
		Lifetime    time.Duration `koanf:"lifetime"`
		IdleTimeout time.Duration `koanf:"idle_timeout"`
	} `koanf:"session"`
	Throttle struct {
		AccountFailures int           `koanf:"account_failures"` // failed logins per username per window
		IPFailures      int           `koanf:"ip_failures"`      // failed logins per IP per window
		Window          time.Duration `koanf:"window"`
	} `koanf:"throttle"`
	HTTP struct {
		MaxBodyBytes    int64         `koanf:"max_body_bytes"`
		TrustedProxies  []string      `koanf:"trusted_proxies"` // CIDRs whose X-Forwarded-For is believed
		ShutdownTimeout time.Duration `koanf:"shutdown_timeout"`
		// RequestTimeout is every request's deadline: at it, a request
		// still waiting (on the database, for a hashing slot) is answered
		// 503.
		RequestTimeout time.Duration `koanf:"request_timeout"`
	} `koanf:"http"`
	Assurance struct {
		// NISTPrefix goes in front of the aal1, aal2 and aal3 acr values.
		NISTPrefix string `koanf:"nist_prefix"`
		// Levels replaces the ordered eIDAS levels (the aliases stay);
		// empty = the default table.
		Levels []LevelConfig `koanf:"levels"`
	} `koanf:"assurance"`
	Factors struct {
		MaxAttempts          int               `koanf:"max_attempts"`           // wrong answers per challenge
		AccountFailures      int               `koanf:"account_failures"`       // consecutive wrong answers per account before factor login locks
		AccountFailureWindow time.Duration     `koanf:"account_failure_window"` // how long those failures are remembered
		ChallengeLifetime    time.Duration     `koanf:"challenge_lifetime"`
		FlowLifetime         time.Duration     `koanf:"flow_lifetime"` // how long a login flow lives
		TOTPIssuer           string            `koanf:"totp_issuer"`   // "" = the issuer's host
		Email                CodeFactorConfig  `koanf:"email"`
		SMS                  CodeFactorConfig  `koanf:"sms"`
		Voice                VoiceFactorConfig `koanf:"voice"`
	} `koanf:"factors"`
	// Notify chooses and configures the transports of what factors send
	// (see notify.go in this package and docs/DELIVERY.md).
	Notify NotifyConfig `koanf:"notify"`
	// Phone: how numbers people type are read.
	Phone struct {
		// DefaultCountry is the country the selector starts on (ISO
		// 3166-1 alpha-2) and the one a number without +CC belongs to.
		DefaultCountry string `koanf:"default_country"`
		// AllowedCountries are the countries numbers may belong to;
		// empty = every country (not advised: SMS pumping to premium
		// ranges abroad).
		AllowedCountries []string `koanf:"allowed_countries"`
	} `koanf:"phone"`
	Policy struct {
		// Default is the policy of clients without their own.
		Default PolicyConfig `koanf:"default"`
		// Clients are seeded into the database at start for clients that
		// have no policy yet; fields left out take policy.default's value.
		Clients map[string]PolicyConfig `koanf:"clients"`
	} `koanf:"policy"`
}

// LevelConfig is one level of assurance.levels (see assurance.Rule).
type LevelConfig struct {
	ACR               string        `koanf:"acr"`
	Names             []string      `koanf:"names"`
	MinKinds          int           `koanf:"min_kinds"` // default 1
	PhishingResistant bool          `koanf:"phishing_resistant"`
	ExcludeAMR        []string      `koanf:"exclude_amr"`
	MaxAge            time.Duration `koanf:"max_age"`
	Idle              time.Duration `koanf:"idle"`
}

// PolicyConfig is a client policy as written in the file (see
// store.ClientPolicy); acr values may be short names ("substantial").
type PolicyConfig struct {
	AllowedFactors       []string      `koanf:"allowed_factors"`
	MinACR               string        `koanf:"min_acr"`
	DefaultACR           string        `koanf:"default_acr"`
	FactorMaxAge         time.Duration `koanf:"factor_max_age"`
	GraceDays            int           `koanf:"grace_days"`
	RememberDevice       bool          `koanf:"remember_device"`
	RememberFor          time.Duration `koanf:"remember_for"`
	AccountChangeFactors []string      `koanf:"account_change_factors"`
}

// entryDefaults gives the starting value of one entry of a list or map of
// structs: what an entry that leaves a field out gets.
var entryDefaults = map[reflect.Type]func(c *Config) reflect.Value{
	reflect.TypeFor[LevelConfig](): func(*Config) reflect.Value { return reflect.ValueOf(LevelConfig{MinKinds: 1}) },
	reflect.TypeFor[PolicyConfig](): func(c *Config) reflect.Value {
		p := c.Policy.Default
		p.AllowedFactors = slices.Clone(p.AllowedFactors)
		p.AccountChangeFactors = slices.Clone(p.AccountChangeFactors)
		return reflect.ValueOf(p)
	},
}

// Default returns the configuration used for every key that neither the file
// nor the environment sets. It is not valid on its own outside dev mode: the
// encryption key has no default on purpose.
func Default() Config {
	var c Config
	c.Issuer = "http://127.0.0.1:8080"
	c.Listen = "127.0.0.1:8080"
	c.Log.Level = "info"
	c.Log.Access = "all"
	c.Log.Format = "json"
	c.Database.DSN = "sqlite:data/idp.db"
	c.Database.MaxOpenConns = 20
	c.Database.MigrateOnStart = true
	c.Passwords.Argon2MemoryKiB = 19456
	c.Passwords.Argon2Iterations = 2
	c.Passwords.Argon2Parallelism = 1
	c.Passwords.MinLength = 8
	c.Passwords.MinLengthPasswordOnly = 15
	c.Passwords.MaxLength = 64
	c.Passwords.MaxHashWait = 2 * time.Second
	c.Tokens.AccessTokenLifetime = 10 * time.Minute
	c.Tokens.IDTokenLifetime = time.Hour
	c.Tokens.RefreshTokenLifetime = 720 * time.Hour
	c.Tokens.AuthCodeLifetime = 60 * time.Second
	c.Tokens.AuthRequestLifetime = 30 * time.Minute
	c.Keys.DefaultAlg = "ES256"
	c.Keys.CacheTTL = 30 * time.Second
	c.Session.CookieName = "idp_session"
	c.Session.Lifetime = 12 * time.Hour
	c.Session.IdleTimeout = 30 * time.Minute
	c.Throttle.AccountFailures = 10
	c.Throttle.IPFailures = 100
	c.Throttle.Window = 15 * time.Minute
	c.HTTP.MaxBodyBytes = 64 << 10
	c.HTTP.ShutdownTimeout = 15 * time.Second
	c.HTTP.RequestTimeout = 10 * time.Second
	c.Factors.MaxAttempts = 5
	// NIST SP 800-63B-4 3.2.2: at most 100 consecutive failed attempts
	// on one account.
	c.Factors.AccountFailures = 100
	c.Factors.AccountFailureWindow = 720 * time.Hour
	c.Factors.ChallengeLifetime = 10 * time.Minute
	c.Factors.FlowLifetime = 30 * time.Minute
	defaultNotify(&c)
	d := policy.Default()
	c.Policy.Default = PolicyConfig{
		AllowedFactors: d.AllowedFactors, MinACR: d.MinACR, DefaultACR: d.DefaultACR, FactorMaxAge: d.FactorMaxAge,
		GraceDays: d.GraceDays, RememberDevice: d.RememberDevice, RememberFor: d.RememberFor, AccountChangeFactors: d.AccountChangeFactors,
	}
	return c
}

// field is one leaf key of Config.
type field struct {
	key    string // "database.max_open_conns"
	index  []int  // reflect path into Config
	secret bool
	// structured: a list or map of structs (assurance.levels,
	// policy.clients). Its entries are not keys of their own: in the file
	// it is written as YAML, in its environment variable as JSON.
	structured bool
}

// EnvName returns the environment variable that overrides key.
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// fields lists the leaf keys of Config in declaration order.
func fields() []field {
	var out []field
	var walk func(t reflect.Type, prefix string, index []int)
	walk = func(t reflect.Type, prefix string, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			name := f.Tag.Get("koanf")
			if name == "" || name == "-" {
				continue
			}
			idx := append(slices.Clone(index), i)
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Time]() {
				walk(f.Type, prefix+name+".", idx)
				continue
			}
			structured := (f.Type.Kind() == reflect.Slice || f.Type.Kind() == reflect.Map) && f.Type.Elem().Kind() == reflect.Struct
			out = append(out, field{key: prefix + name, index: idx, secret: f.Tag.Get("secret") == "true", structured: structured})
		}
	}
	walk(reflect.TypeFor[Config](), "", nil)
	return out
}

// Keys returns every configuration key (secret _file variants excluded), in
// declaration order. The example file and documentation are checked
// against it.
func Keys() []string {
	var ks []string
	for _, f := range fields() {
		ks = append(ks, f.key)
	}
	return ks
}

// Load reads the YAML file at path (none when path is ""), applies the IDP_*
// variables of environ (in os.Environ form) on top, and validates the result.
// On error the returned Config holds everything that could be decoded, and the
// error lists every problem, each naming its key.
func Load(path string, environ []string) (Config, error) {
	cfg := Default()
	k := koanf.New(".")
	if path != "" {
		if err := k.Load(file.Provider(path), yaml.Parser()); err != nil {
			return cfg, fmt.Errorf("config: reading %s: %w", path, err)
		}
	}
	var errs []error
	fs := fields()
	known := map[string]field{}
	byEnv := map[string]string{} // IDP_X -> key (or key_file)
	for _, f := range fs {
		known[f.key] = f
		byEnv[EnvName(f.key)] = f.key
		if f.secret {
			byEnv[EnvName(f.key+fileSuffix)] = f.key + fileSuffix
		}
	}

	// The file: unknown keys are reported, because a typo silently leaves
	// a security setting at its default.
	for _, key := range k.Keys() {
		base, isFile := strings.CutSuffix(key, fileSuffix)
		if _, ok := known[key]; ok {
			continue
		}
		if slices.ContainsFunc(fs, func(f field) bool { return f.structured && strings.HasPrefix(key, f.key+".") }) {
			continue // an entry of a list or map of structs: checked when decoded
		}
		if m, ok := k.Get(key).(map[string]any); ok && len(m) == 0 &&
			slices.ContainsFunc(fs, func(f field) bool { return strings.HasPrefix(f.key, key+".") }) {
			continue // an empty section ("policy: {}")
		}
		if f, ok := known[base]; ok && isFile && f.secret {
			if k.Exists(base) {
				errs = append(errs, fmt.Errorf("%s: set either %s or %s, not both", base, base, key))
			}
			continue
		}
		errs = append(errs, fmt.Errorf("%s: unknown key", key))
	}

	// The environment wins over the file, including across the value and
	// _file forms: IDP_SECRETS_ENCRYPTION_KEY replaces encryption_key_file.
	envSet := map[string]string{}
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		if key, ok := byEnv[name]; ok {
			envSet[key] = val
		}
	}
	for _, f := range fs {
		v, hasVal := envSet[f.key]
		fv, hasFile := envSet[f.key+fileSuffix]
		switch {
		case f.structured:
			continue // decoded from envSet below
		case hasVal && hasFile:
			errs = append(errs, fmt.Errorf("%s: set either %s or %s, not both", f.key, EnvName(f.key), EnvName(f.key+fileSuffix)))
		case hasVal:
			k.Delete(f.key + fileSuffix)
			_ = k.Set(f.key, v)
		case hasFile:
			k.Delete(f.key)
			_ = k.Set(f.key+fileSuffix, fv)
		}
	}

	rv := reflect.ValueOf(&cfg).Elem()
	for _, f := range fs {
		if f.structured {
			continue // after every plain key, as entries start from them
		}
		dst := rv.FieldByIndex(f.index)
		if f.secret {
			if p, ok := k.Get(f.key + fileSuffix).(string); ok && p != "" {
				b, err := os.ReadFile(p)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s%s: %w", f.key, fileSuffix, err))
					continue
				}
				dst.SetString(strings.TrimSpace(string(b)))
				continue
			}
		}
		raw := k.Get(f.key)
		if raw == nil {
			continue
		}
		if err := setField(dst, raw); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.key, err))
		}
	}
	for _, f := range fs {
		if !f.structured {
			continue
		}
		raw := k.Get(f.key)
		if v, ok := envSet[f.key]; ok {
			raw = v
		}
		errs = append(errs, decodeStructured(&cfg, rv.FieldByIndex(f.index), raw, f.key)...)
	}
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	return cfg, errors.Join(errs...)
}

// decodeStructured fills a list or map of structs from its YAML value, or
// from the JSON text of its environment variable. Every entry starts from
// its default (entryDefaults); unknown fields are reported with their full
// key, as a typo in a client's policy is as dangerous as anywhere else.
func decodeStructured(c *Config, dst reflect.Value, raw any, key string) []error {
	if s, ok := raw.(string); ok {
		raw = nil
		if strings.TrimSpace(s) != "" {
			if err := json.Unmarshal([]byte(s), &raw); err != nil {
				return []error{fmt.Errorf("%s: must be JSON in %s: %v", key, EnvName(key), err)}
			}
		}
	}
	elem := dst.Type().Elem()
	entry := func(v any, at string) (reflect.Value, []error) {
		e := reflect.New(elem).Elem()
		e.Set(entryDefaults[elem](c))
		if v == nil {
			return e, nil
		}
		m, ok := v.(map[string]any)
		if !ok {
			return e, []error{fmt.Errorf("%s: must be a mapping of fields", at)}
		}
		return e, decodeFields(e, m, at)
	}
	var errs []error
	switch v := raw.(type) {
	case nil:
		dst.SetZero()
	case []any:
		if dst.Kind() != reflect.Slice {
			return []error{fmt.Errorf("%s: must be a mapping, not a list", key)}
		}
		out := reflect.MakeSlice(dst.Type(), 0, len(v))
		for i, item := range v {
			e, es := entry(item, fmt.Sprintf("%s[%d]", key, i))
			errs = append(errs, es...)
			out = reflect.Append(out, e)
		}
		dst.Set(out)
		if len(v) == 0 {
			dst.SetZero() // "no entries" has one representation
		}
	case map[string]any:
		if dst.Kind() != reflect.Map {
			return []error{fmt.Errorf("%s: must be a list, not a mapping", key)}
		}
		out := reflect.MakeMapWithSize(dst.Type(), len(v))
		for _, name := range slices.Sorted(maps.Keys(v)) {
			if strings.TrimSpace(name) == "" {
				errs = append(errs, fmt.Errorf("%s: an entry has an empty name", key))
				continue
			}
			e, es := entry(v[name], key+"."+name)
			errs = append(errs, es...)
			out.SetMapIndex(reflect.ValueOf(name), e)
		}
		dst.Set(out)
		if len(v) == 0 {
			dst.SetZero()
		}
	default:
		if dst.Kind() == reflect.Slice {
			return []error{fmt.Errorf("%s: must be a list", key)}
		}
		return []error{fmt.Errorf("%s: must be a mapping", key)}
	}
	return errs
}

// decodeFields sets the fields of the struct dst from m, by koanf tag.
func decodeFields(dst reflect.Value, m map[string]any, key string) []error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(m)) {
		i := -1
		for j := range dst.NumField() {
			if dst.Type().Field(j).Tag.Get("koanf") == name {
				i = j
			}
		}
		if i < 0 {
			errs = append(errs, fmt.Errorf("%s.%s: unknown key", key, name))
			continue
		}
		if m[name] == nil {
			continue // "field:" with no value keeps the default
		}
		if err := setField(dst.Field(i), m[name]); err != nil {
			errs = append(errs, fmt.Errorf("%s.%s: %w", key, name, err))
		}
	}
	return errs
}

// setField converts a value from YAML (typed) or the environment (string)
// into dst.
func setField(dst reflect.Value, raw any) error {
	if _, isMap := raw.(map[string]any); isMap {
		return errors.New("must be a single value, not a mapping")
	}
	if dst.Type() == reflect.TypeFor[time.Duration]() {
		s, ok := raw.(string)
		if !ok {
			return fmt.Errorf("must be a duration with a unit such as \"10m\" or \"720h\", got %v", raw)
		}
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("must be a duration with a unit such as \"10m\" or \"720h\", got %q", s)
		}
		dst.SetInt(int64(d))
		return nil
	}
	if dst.Kind() == reflect.Slice {
		var list []string
		switch v := raw.(type) {
		case []any:
			for _, e := range v {
				if !isScalar(e) {
					return errors.New("must be a list of strings")
				}
				list = append(list, fmt.Sprint(e))
			}
		case string:
			// From the environment: comma-separated.
			for _, e := range strings.Split(v, ",") {
				if e = strings.TrimSpace(e); e != "" {
					list = append(list, e)
				}
			}
		default:
			return errors.New("must be a list of strings")
		}
		if len(list) == 0 {
			list = nil // "no entries" has one representation
		}
		dst.Set(reflect.ValueOf(list))
		return nil
	}
	if _, isList := raw.([]any); isList || !isScalar(raw) {
		return errors.New("must be a single value, not a list")
	}
	s := strings.TrimSpace(fmt.Sprint(raw))
	switch dst.Kind() {
	case reflect.String:
		dst.SetString(fmt.Sprint(raw))
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("must be true or false, got %q", s)
		}
		dst.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, dst.Type().Bits())
		if err != nil {
			return fmt.Errorf("must be an integer, got %q", s)
		}
		dst.SetInt(n)
	case reflect.Uint8, reflect.Uint32:
		n, err := strconv.ParseUint(s, 10, dst.Type().Bits())
		if err != nil {
			return fmt.Errorf("must be an integer from 0 to %d, got %q", uint64(1)<<dst.Type().Bits()-1, s)
		}
		dst.SetUint(n)
	default:
		return fmt.Errorf("unsupported type %s", dst.Type())
	}
	return nil
}

func isScalar(v any) bool {
	switch v.(type) {
	case string, bool, int, int64, uint64, float64:
		return true
	}
	return false
}

// EncryptionKeyBytes decodes secrets.encryption_key (standard or URL-safe
// base64, padded or not) into its 32 bytes.
func (c Config) EncryptionKeyBytes() ([]byte, error) {
	s := strings.TrimSpace(c.Secrets.EncryptionKey)
	if s == "" {
		return nil, errors.New("secrets.encryption_key: not set")
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != 32 {
				return nil, fmt.Errorf("secrets.encryption_key: must decode to exactly 32 bytes, got %d (generate one with: openssl rand -base64 32)", len(b))
			}
			return b, nil
		}
	}
	return nil, errors.New("secrets.encryption_key: must be base64 (generate one with: openssl rand -base64 32)")
}

// Validate checks every key and returns all problems joined, each message
// starting with its key.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	positive := func(key string, d time.Duration) {
		if d <= 0 {
			bad(key, "must be a positive duration, got %s", d)
		}
	}

	if u, err := url.Parse(c.Issuer); err != nil || (u.Scheme != "http" && u.Scheme != "https") ||
		u.Host == "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.User != nil {
		bad("issuer", "must be an absolute http(s) URL without query or fragment")
	} else {
		if u.Scheme == "http" && !c.Dev && !isLoopback(u.Hostname()) {
			bad("issuer", "must use https (http is allowed only in dev mode or on a loopback host)")
		}
		// Endpoints are appended to the issuer; a trailing slash would
		// make "//token" and break exact issuer comparison in clients.
		if strings.HasSuffix(u.Path, "/") {
			bad("issuer", "must not end with a slash")
		}
	}
	// An empty host (":8080") means every interface, which is allowed.
	if _, port, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", "must be host:port, got %q", c.Listen)
	} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		bad("listen", "port must be a number from 0 to 65535, got %q", port)
	}

	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		bad("log.level", "must be one of debug, info, warn, error; got %q", c.Log.Level)
	}
	if !slices.Contains([]string{"all", "errors", "none"}, c.Log.Access) {
		bad("log.access", "must be one of all, errors, none; got %q", c.Log.Access)
	}
	if !slices.Contains([]string{"json", "text"}, c.Log.Format) {
		bad("log.format", "must be json or text, got %q", c.Log.Format)
	}

	switch dsn := c.Database.DSN; {
	case strings.HasPrefix(dsn, "sqlite:"):
		if strings.TrimPrefix(dsn, "sqlite:") == "" {
			bad("database.dsn", "sqlite: needs a file path, e.g. sqlite:data/idp.db")
		}
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		if _, err := url.Parse(dsn); err != nil {
			bad("database.dsn", "is not a valid postgres URL")
		}
	default:
		bad("database.dsn", "must start with sqlite: or postgres://")
	}
	if c.Database.MaxOpenConns < 1 {
		bad("database.max_open_conns", "must be at least 1, got %d", c.Database.MaxOpenConns)
	}

	if c.Secrets.EncryptionKey == "" {
		// Dev mode and SQLite may keep the key in encryption.key next to the
		// database file (idp demo creates it); PostgreSQL deployments must
		// configure it, since several nodes need the same key.
		if !c.Dev && !strings.HasPrefix(c.Database.DSN, "sqlite:") {
			bad("secrets.encryption_key", "is required with PostgreSQL (or secrets.encryption_key_file); generate one with: openssl rand -base64 32")
		}
	} else if _, err := c.EncryptionKeyBytes(); err != nil {
		errs = append(errs, err) // already names the key
	}

	p := c.Passwords
	if p.Argon2MemoryKiB < 8192 {
		bad("passwords.argon2_memory_kib", "must be at least 8192 (OWASP recommends 19456), got %d", p.Argon2MemoryKiB)
	}
	if p.Argon2Iterations < 1 || p.Argon2Iterations > 64 {
		bad("passwords.argon2_iterations", "must be from 1 to 64, got %d", p.Argon2Iterations)
	}
	if p.Argon2Parallelism < 1 {
		bad("passwords.argon2_parallelism", "must be at least 1, got %d", p.Argon2Parallelism)
	}
	// SP 800-63B-4: at least 8, or 15 when the password is the only factor,
	// and a maximum of at least 64.
	if p.MinLength < 8 {
		bad("passwords.min_length", "must be at least 8 (NIST SP 800-63B-4), got %d", p.MinLength)
	}
	if p.MinLengthPasswordOnly < 15 || p.MinLengthPasswordOnly < p.MinLength {
		bad("passwords.min_length_password_only", "must be at least 15 (NIST SP 800-63B-4) and at least passwords.min_length, got %d", p.MinLengthPasswordOnly)
	}
	if p.MaxLength < 64 || p.MaxLength < p.MinLengthPasswordOnly {
		bad("passwords.max_length", "must be at least 64 (NIST SP 800-63B-4) and at least passwords.min_length_password_only, got %d", p.MaxLength)
	}
	if p.MaxConcurrentHashes < 0 {
		bad("passwords.max_concurrent_hashes", "must be 0 (one per CPU) or more, got %d", p.MaxConcurrentHashes)
	}
	if p.MaxQueuedHashes < 0 {
		bad("passwords.max_queued_hashes", "must be 0 (8 per concurrent hash) or more, got %d", p.MaxQueuedHashes)
	}
	// A wait as long as the request's deadline would end in the generic
	// 503 page instead of the login form's "try again in a moment".
	if p.MaxHashWait <= 0 || (c.HTTP.RequestTimeout > 0 && p.MaxHashWait >= c.HTTP.RequestTimeout) {
		bad("passwords.max_hash_wait", "must be positive and below http.request_timeout (%s), got %s", c.HTTP.RequestTimeout, p.MaxHashWait)
	}

	t := c.Tokens
	positive("tokens.access_token_lifetime", t.AccessTokenLifetime)
	positive("tokens.id_token_lifetime", t.IDTokenLifetime)
	positive("tokens.refresh_token_lifetime", t.RefreshTokenLifetime)
	positive("tokens.auth_code_lifetime", t.AuthCodeLifetime)
	positive("tokens.auth_request_lifetime", t.AuthRequestLifetime)
	// RFC 6749 section 4.1.2: "A maximum authorization code lifetime of
	// 10 minutes is RECOMMENDED."
	if t.AuthCodeLifetime > 10*time.Minute {
		bad("tokens.auth_code_lifetime", "must be at most 10m (RFC 6749), got %s", t.AuthCodeLifetime)
	}

	if c.Keys.DefaultAlg != "ES256" && c.Keys.DefaultAlg != "RS256" {
		bad("keys.default_alg", "must be ES256 or RS256, got %q", c.Keys.DefaultAlg)
	}
	positive("keys.cache_ttl", c.Keys.CacheTTL)

	if !validCookieName(c.Session.CookieName) {
		bad("session.cookie_name", "must be a non-empty cookie name (letters, digits, - _ .), got %q", c.Session.CookieName)
	}
	positive("session.lifetime", c.Session.Lifetime)
	positive("session.idle_timeout", c.Session.IdleTimeout)
	if c.Session.IdleTimeout > c.Session.Lifetime && c.Session.Lifetime > 0 {
		bad("session.idle_timeout", "must not exceed session.lifetime (%s), got %s", c.Session.Lifetime, c.Session.IdleTimeout)
	}

	if c.Throttle.AccountFailures < 1 {
		bad("throttle.account_failures", "must be at least 1, got %d", c.Throttle.AccountFailures)
	}
	if c.Throttle.IPFailures < 1 {
		bad("throttle.ip_failures", "must be at least 1, got %d", c.Throttle.IPFailures)
	}
	positive("throttle.window", c.Throttle.Window)

	if c.HTTP.MaxBodyBytes < 1024 {
		bad("http.max_body_bytes", "must be at least 1024, got %d", c.HTTP.MaxBodyBytes)
	}
	for _, s := range c.HTTP.TrustedProxies {
		if _, err := ParseProxy(s); err != nil {
			bad("http.trusted_proxies", "%q is not a CIDR or IP address", s)
		}
	}
	positive("http.shutdown_timeout", c.HTTP.ShutdownTimeout)
	// At least a second: below that a login on a busy node (tens of ms
	// of hashing, plus its queue, plus a few round trips) fails for
	// nothing. At most five minutes: the write timeout of the server
	// follows it, and longer holds a connection and a pool slot per
	// stuck request for no one's benefit.
	if c.HTTP.RequestTimeout < time.Second || c.HTTP.RequestTimeout > 5*time.Minute {
		bad("http.request_timeout", "must be from 1s to 5m, got %s", c.HTTP.RequestTimeout)
	}

	table, terr := c.AssuranceTable()
	if terr != nil {
		errs = append(errs, terr) // already names the keys
	}

	f := c.Factors
	if f.MaxAttempts < 1 {
		bad("factors.max_attempts", "must be at least 1, got %d", f.MaxAttempts)
	}
	// SP 800-63B-4 3.2.2: no more than 100 consecutive failed attempts.
	if f.AccountFailures < 1 || f.AccountFailures > 100 {
		bad("factors.account_failures", "must be from 1 to 100 (NIST SP 800-63B-4), got %d", f.AccountFailures)
	}
	positive("factors.account_failure_window", f.AccountFailureWindow)
	positive("factors.challenge_lifetime", f.ChallengeLifetime)
	positive("factors.flow_lifetime", f.FlowLifetime)
	if f.ChallengeLifetime > f.FlowLifetime && f.FlowLifetime > 0 {
		bad("factors.challenge_lifetime", "must not exceed factors.flow_lifetime (%s): a challenge lives inside a login flow, got %s", f.FlowLifetime, f.ChallengeLifetime)
	}
	// The issuer is the prefix of the account label in otpauth:// URIs,
	// separated by a colon.
	if strings.Contains(f.TOTPIssuer, ":") {
		bad("factors.totp_issuer", "must not contain a colon, got %q", f.TOTPIssuer)
	}
	c.validateNotify(bad, positive)

	// Policies name acr values of the table: with a broken table every
	// one of them would be reported too, so they wait for it to be fixed.
	if terr == nil {
		if _, _, err := c.Policies(table); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// AssuranceTable builds the acr table: the default eIDAS levels, or
// assurance.levels, with the "mfa" and NIST aliases under
// assurance.nist_prefix.
func (c Config) AssuranceTable() (assurance.Table, error) {
	t := assurance.DefaultTable(c.Assurance.NISTPrefix)
	if len(c.Assurance.Levels) > 0 {
		t.Levels = nil
		for _, l := range c.Assurance.Levels {
			t.Levels = append(t.Levels, assurance.Level{ACR: l.ACR, Names: slices.Clone(l.Names), Rule: assurance.Rule{
				MinKinds: l.MinKinds, PhishingResistant: l.PhishingResistant, ExcludeAMR: slices.Clone(l.ExcludeAMR), MaxAge: l.MaxAge, Idle: l.Idle,
			}})
		}
	}
	var errs []error
	if strings.ContainsFunc(c.Assurance.NISTPrefix, unicode.IsSpace) {
		// acr_values is a space-separated list.
		errs = append(errs, fmt.Errorf("assurance.nist_prefix: must not contain spaces, got %q", c.Assurance.NISTPrefix))
	}
	for _, e := range unjoin(t.Validate()) {
		if strings.HasPrefix(e.Error(), "aliases") {
			continue // the aliases are built in: only the prefix breaks them, reported above
		}
		errs = append(errs, fmt.Errorf("assurance.%w", e))
	}
	return t, errors.Join(errs...)
}

// Policies returns policy.default and policy.clients as store policies,
// short acr names ("substantial") resolved through t, each validated (the
// factor ids are checked later, against the registered factors). Errors
// name their keys: policy.clients.<id>.min_acr.
func (c Config) Policies(t assurance.Table) (def store.ClientPolicy, clients map[string]store.ClientPolicy, err error) {
	var errs []error
	convert := func(p PolicyConfig, id, key string) store.ClientPolicy {
		resolve := func(name string) string {
			if acr, ok := t.Resolve(name); ok {
				return acr
			}
			return name // unknown: Validate names it
		}
		cp := store.ClientPolicy{
			ClientID: id, AllowedFactors: slices.Clone(p.AllowedFactors), MinACR: resolve(p.MinACR), DefaultACR: resolve(p.DefaultACR),
			FactorMaxAge: p.FactorMaxAge, GraceDays: p.GraceDays, RememberDevice: p.RememberDevice, RememberFor: p.RememberFor,
			AccountChangeFactors: slices.Clone(p.AccountChangeFactors),
		}
		for _, e := range unjoin(policy.Validate(t, cp, nil)) {
			errs = append(errs, fmt.Errorf("%s.%w", key, e))
		}
		return cp
	}
	def = convert(c.Policy.Default, "", "policy.default")
	if len(c.Policy.Clients) > 0 {
		clients = map[string]store.ClientPolicy{}
		for _, id := range slices.Sorted(maps.Keys(c.Policy.Clients)) {
			clients[id] = convert(c.Policy.Clients[id], id, "policy.clients."+id)
		}
	}
	return def, clients, errors.Join(errs...)
}

// unjoin lists the errors joined in err.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// ParseProxy parses one http.trusted_proxies entry: a CIDR, or a single IP
// address meaning that address alone.
func ParseProxy(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// TrustedProxyPrefixes returns http.trusted_proxies parsed; call it on a
// validated Config.
func (c Config) TrustedProxyPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range c.HTTP.TrustedProxies {
		if p, err := ParseProxy(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// validCookieName accepts the RFC 6265 token characters we can rely on
// across browsers.
func validCookieName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}
