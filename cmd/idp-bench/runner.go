package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// runOptions configure one measured run of one scenario.
type runOptions struct {
	Issuer      string
	Scenario    string
	Concurrency int
	Duration    time.Duration
	Warmup      time.Duration
	// Timeout bounds one HTTP request (not a whole login).
	Timeout time.Duration
	// ACR is what step-up asks for in acr_values.
	ACR string
	// Setup holds the clients and users; TOTP users' LastStep is updated
	// in place, so the caller can save it for the next run.
	Setup *benchSetup
}

// iteration is what a worker repeats. prepare runs before the clock of
// each iteration starts (waiting for a TOTP user that may log in again);
// do is the timed operation; recover runs untimed after a failed do (a
// refresh chain broken by an error is restarted by a new login).
type iteration struct {
	prepare func(ctx context.Context) error
	do      func(ctx context.Context) error
	recover func(ctx context.Context) error
}

// scenario builds a worker's iteration; the work it does to get there
// (a login to get a refresh token) happens before any clock starts.
type scenario struct {
	name  string
	about string
	start func(ctx context.Context, w *worker) (iteration, error)
}

// env is what every worker of a run shares: read-only after newEnv,
// except the TOTP pool, which has its own lock.
type env struct {
	opts   runOptions
	issuer *url.URL
	disc   discovery
	setup  *benchSetup
	basic  string // Authorization header of the main client
	mfa    string // ... of the client that requires substantial
	pool   *totpPool
}

// discovery is the part of the discovery document the scenarios use.
type discovery struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`
	JWKSURI               string `json:"jwks_uri"`
}

func discoveryURL(issuer string) string {
	return strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
}

func fetchDiscovery(ctx context.Context, issuer string, timeout time.Duration) (discovery, error) {
	var d discovery
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, discoveryURL(issuer), nil)
	if err != nil {
		return d, err
	}
	// No proxy from the environment, as for the workers.
	tr := &http.Transport{Proxy: nil}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return d, fmt.Errorf("discovery: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return d, fmt.Errorf("discovery: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return d, fmt.Errorf("discovery: %s answers %d", req.URL, resp.StatusCode)
	}
	if err := json.Unmarshal(body, &d); err != nil {
		return d, fmt.Errorf("discovery: %w", err)
	}
	if d.TokenEndpoint == "" || d.JWKSURI == "" {
		return d, errors.New("discovery: no token_endpoint or jwks_uri")
	}
	return d, nil
}

func basicAuth(id, secret string) string {
	return "Basic " + b64std.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

func newEnv(ctx context.Context, opts runOptions) (*env, error) {
	iss, err := url.Parse(strings.TrimSuffix(opts.Issuer, "/"))
	if err != nil || iss.Host == "" || (iss.Scheme != "http" && iss.Scheme != "https") {
		return nil, fmt.Errorf("--issuer %q: want an http(s) URL", opts.Issuer)
	}
	d, err := fetchDiscovery(ctx, opts.Issuer, opts.Timeout)
	if err != nil {
		return nil, err
	}
	s := opts.Setup
	if s == nil {
		s = &benchSetup{}
	}
	e := &env{opts: opts, issuer: iss, disc: d, setup: s}
	if s.ClientID != "" {
		e.basic = basicAuth(s.ClientID, s.ClientSecret)
	}
	if s.MFAClientID != "" {
		e.mfa = basicAuth(s.MFAClientID, s.MFAClientSecret)
	}
	if len(s.TOTPUsers) > 0 {
		e.pool = newTOTPPool(s.TOTPUsers)
	}
	return e, nil
}

// worker is one closed-loop client: one keep-alive connection (its own
// transport), one request at a time. Everything it records is its own
// and merged after the run, so the hot path takes no lock.
type worker struct {
	id     int
	env    *env
	tr     *http.Transport
	client *http.Client // follows no redirects; browsers add a cookie jar
	buf    bytes.Buffer // the last response body, reused

	hist     histogram
	phases   map[string]*histogram
	pending  []phaseSample
	errs     map[string]uint64
	examples map[string]string
	requests uint64 // HTTP requests of counted operations
	inOp     uint64 // HTTP requests of the operation under way
}

type phaseSample struct {
	name string
	d    time.Duration
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func newWorker(id int, e *env) *worker {
	tr := &http.Transport{
		Proxy:               nil, // measure the server, not a proxy from the environment
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        4,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   false,
	}
	return &worker{
		id: id, env: e, tr: tr,
		client: &http.Client{Transport: tr, CheckRedirect: noRedirects, Timeout: e.opts.Timeout},
		errs:   map[string]uint64{}, examples: map[string]string{}, phases: map[string]*histogram{},
	}
}

// send does req and reads the whole body into w.buf, which stays valid
// until the next send.
func (w *worker) send(c *http.Client, req *http.Request) (*http.Response, []byte, error) {
	w.inOp++
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	w.buf.Reset()
	_, err = w.buf.ReadFrom(io.LimitReader(resp.Body, 4<<20))
	resp.Body.Close()
	if err != nil {
		return nil, nil, err
	}
	return resp, w.buf.Bytes(), nil
}

// phase records a named part of the current operation; it is kept only
// when the operation is counted.
func (w *worker) phase(name string, d time.Duration) {
	w.pending = append(w.pending, phaseSample{name, d})
}

// kindError is a failure with a stable, low-cardinality kind for the
// errors-by-kind table ("token: invalid_grant", "jwks: http 5xx").
type kindError struct {
	kind   string
	detail string
}

func (e *kindError) Error() string {
	if e.detail == "" {
		return e.kind
	}
	return e.kind + ": " + e.detail
}

func errKind(kind, format string, args ...any) error {
	return &kindError{kind: kind, detail: fmt.Sprintf(format, args...)}
}

// httpError classifies a response with an unexpected status: an OAuth
// error code when the body has one, else the status class.
func httpError(endpoint string, status int, body []byte) error {
	if status >= 400 && status < 500 {
		if code := jsonString(body, "error"); code != "" && len(code) <= 64 {
			return &kindError{kind: endpoint + ": " + code, detail: fmt.Sprintf("http %d %s", status, truncate(jsonString(body, "error_description"), 120))}
		}
	}
	return &kindError{kind: fmt.Sprintf("%s: http %dxx", endpoint, status/100), detail: fmt.Sprintf("http %d %s", status, truncate(string(body), 120))}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// classify maps an error to its kind.
func classify(err error) string {
	var ke *kindError
	var ne net.Error
	switch {
	case errors.As(err, &ke):
		return ke.kind
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "net: connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.EPIPE):
		return "net: connection closed"
	case errors.As(err, &ne):
		return "net: other"
	}
	return "other"
}

// loop runs it until ctx ends. Operations that complete in [from, to]
// are counted; those in flight at the end are cancelled and dropped.
func (w *worker) loop(ctx context.Context, it iteration, from, to time.Time, counted *sync.WaitGroup) {
	defer counted.Done()
	for ctx.Err() == nil {
		var err error
		w.pending, w.inOp = w.pending[:0], 0
		if it.prepare != nil {
			err = it.prepare(ctx)
		}
		var t0, t1 time.Time
		if err == nil {
			t0 = time.Now()
			err = it.do(ctx)
			t1 = time.Now()
		} else {
			t1 = time.Now()
		}
		if ctx.Err() != nil || t1.After(to) {
			return
		}
		if err != nil && it.recover != nil {
			for rerr := it.recover(ctx); rerr != nil && ctx.Err() == nil; rerr = it.recover(ctx) {
				w.count(rerr, from, t1) // a failed restart counts as an error too
				time.Sleep(100 * time.Millisecond)
			}
		}
		if t1.Before(from) {
			continue
		}
		if err != nil {
			w.count(err, from, t1)
			continue
		}
		w.hist.record(t1.Sub(t0))
		w.requests += w.inOp
		for _, p := range w.pending {
			h := w.phases[p.name]
			if h == nil {
				h = &histogram{}
				w.phases[p.name] = h
			}
			h.record(p.d)
		}
	}
}

func (w *worker) count(err error, from, at time.Time) {
	if at.Before(from) {
		return
	}
	k := classify(err)
	w.errs[k]++
	if _, ok := w.examples[k]; !ok {
		w.examples[k] = truncate(err.Error(), 300)
	}
}

// run measures one scenario: every worker is set up (not timed), then all
// start together; the first Warmup is not counted, the next Duration is.
func run(ctx context.Context, opts runOptions) (result, error) {
	sc, ok := scenarioByName(opts.Scenario)
	if !ok {
		return result{}, fmt.Errorf("--scenario %q: want one of %s", opts.Scenario, strings.Join(scenarioNames(), ", "))
	}
	if opts.Concurrency < 1 || opts.Duration <= 0 || opts.Warmup < 0 {
		return result{}, errors.New("--concurrency must be at least 1, --duration positive, --warmup not negative")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	e, err := newEnv(ctx, opts)
	if err != nil {
		return result{}, err
	}
	workers := make([]*worker, opts.Concurrency)
	iters := make([]iteration, opts.Concurrency)
	errs := make([]error, opts.Concurrency)
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(2, runtime.GOMAXPROCS(0)*4))
	for i := range workers {
		workers[i] = newWorker(i, e)
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			iters[i], errs[i] = sc.start(ctx, workers[i])
		}()
	}
	wg.Wait()
	defer func() {
		for _, w := range workers {
			w.tr.CloseIdleConnections()
		}
	}()
	if err := errors.Join(errs...); err != nil {
		return result{}, fmt.Errorf("%s: setting up the workers: %w", sc.name, err)
	}

	start := time.Now()
	from := start.Add(opts.Warmup)
	to := from.Add(opts.Duration)
	rctx, cancel := context.WithDeadline(ctx, to)
	defer cancel()
	for i, w := range workers {
		wg.Add(1)
		go w.loop(rctx, iters[i], from, to, &wg)
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return result{}, err
	}
	window := opts.Duration
	if time.Now().Before(to) { // cannot happen unless the clock jumps
		window = time.Since(from)
	}

	var all histogram
	res := result{
		Scenario: sc.name, Concurrency: opts.Concurrency, DurationS: window.Seconds(), WarmupS: opts.Warmup.Seconds(),
		ErrorsByKind: map[string]uint64{}, ErrorExamples: map[string]string{},
	}
	phases := map[string]*histogram{}
	for _, w := range workers {
		all.merge(&w.hist)
		res.Requests += w.requests
		for k, n := range w.errs {
			res.ErrorsByKind[k] += n
			res.Errors += n
			if _, ok := res.ErrorExamples[k]; !ok {
				res.ErrorExamples[k] = w.examples[k]
			}
		}
		for name, h := range w.phases {
			if phases[name] == nil {
				phases[name] = &histogram{}
			}
			phases[name].merge(h)
		}
	}
	res.Ops = all.n
	res.RPS = float64(all.n) / window.Seconds()
	res.RequestsPerS = float64(res.Requests) / window.Seconds()
	if total := res.Ops + res.Errors; total > 0 {
		res.ErrorRate = float64(res.Errors) / float64(total)
	}
	res.Latency = latencyOf(&all)
	if len(phases) > 0 {
		res.Phases = map[string]phaseResult{}
		for name, h := range phases {
			res.Phases[name] = phaseResult{Count: h.n, Latency: latencyOf(h)}
		}
	}
	if e.pool != nil {
		res.TOTPWaits = e.pool.waits.Load()
	}
	return res, nil
}

// scenarioNames lists the scenarios in the order of the documentation.
func scenarioNames() []string {
	names := make([]string, len(scenarios))
	for i, s := range scenarios {
		names[i] = s.name
	}
	return names
}

func scenarioByName(name string) (scenario, bool) {
	i := slices.IndexFunc(scenarios, func(s scenario) bool { return s.name == name })
	if i < 0 {
		return scenario{}, false
	}
	return scenarios[i], true
}
