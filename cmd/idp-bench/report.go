package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// report is what `run --json` prints: one JSON object. docs/LOADTEST.md
// documents every field; keep the two in step.
type report struct {
	Tool       string    `json:"tool"` // "idp-bench"
	Issuer     string    `json:"issuer"`
	StartedAt  time.Time `json:"started_at"`
	GoVersion  string    `json:"go_version"`
	GOMAXPROCS int       `json:"gomaxprocs"`
	NumCPU     int       `json:"num_cpu"`
	Results    []result  `json:"results"`
}

// result is one scenario's run. An operation is one iteration of the
// scenario (one token request; a whole login with its token exchange).
type result struct {
	Scenario    string  `json:"scenario"`
	Concurrency int     `json:"concurrency"`
	DurationS   float64 `json:"duration_s"` // the measured window, warm-up excluded
	WarmupS     float64 `json:"warmup_s"`
	Ops         uint64  `json:"ops"`    // successful operations in the window
	Errors      uint64  `json:"errors"` // failed operations in the window
	ErrorRate   float64 `json:"error_rate"`
	RPS         float64 `json:"rps"` // successful operations per second
	// Requests are the HTTP requests of the successful operations
	// (a login is about 5).
	Requests     uint64            `json:"requests"`
	RequestsPerS float64           `json:"requests_per_s"`
	Latency      latencyResult     `json:"latency_ms"` // of successful operations
	ErrorsByKind map[string]uint64 `json:"errors_by_kind"`
	// ErrorExamples holds the first message seen of each kind.
	ErrorExamples map[string]string `json:"error_examples,omitempty"`
	// Phases are timed parts of an operation (step-up: the second,
	// TOTP-only authorization and its token exchange).
	Phases map[string]phaseResult `json:"phases,omitempty"`
	// TOTPWaits counts the times a worker found no TOTP user whose next
	// code was unused and waited for the next 30 s step: a sign that the
	// setup has too few TOTP users for the rate (see docs/LOADTEST.md).
	TOTPWaits uint64 `json:"totp_waits,omitempty"`
}

type latencyResult struct {
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Min  float64 `json:"min"`
}

type phaseResult struct {
	Count   uint64        `json:"count"`
	Latency latencyResult `json:"latency_ms"`
}

func ms(d time.Duration) float64 {
	return math.Round(float64(d)/1e3) / 1e3 // milliseconds, microsecond precision
}

func latencyOf(h *histogram) latencyResult {
	if h.n == 0 {
		return latencyResult{}
	}
	return latencyResult{
		Mean: ms(h.mean()), P50: ms(h.quantile(0.50)), P90: ms(h.quantile(0.90)),
		P99: ms(h.quantile(0.99)), Max: ms(time.Duration(h.max)), Min: ms(time.Duration(h.min)),
	}
}

func newReport(issuer string) *report {
	return &report{
		Tool: "idp-bench", Issuer: issuer, StartedAt: time.Now().UTC().Truncate(time.Second),
		GoVersion: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU(),
	}
}

func (r *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// writeTable prints the results for a terminal.
func (r *report) writeTable(w io.Writer) error {
	fmt.Fprintf(w, "issuer %s   GOMAXPROCS %d   %s\n\n", r.Issuer, r.GOMAXPROCS, r.GoVersion)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tconc\tseconds\tops\trps\treq/s\tp50 ms\tp90 ms\tp99 ms\tmax ms\terrors\t")
	row := func(name string, conc int, secs float64, ops uint64, rps, reqs float64, l latencyResult, errs uint64) {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%d\t%.1f\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t\n",
			name, conc, secs, ops, rps, reqs, l.P50, l.P90, l.P99, l.Max, errs)
	}
	for _, res := range r.Results {
		row(res.Scenario, res.Concurrency, res.DurationS, res.Ops, res.RPS, res.RequestsPerS, res.Latency, res.Errors)
		for _, name := range slices.Sorted(maps.Keys(res.Phases)) {
			p := res.Phases[name]
			fmt.Fprintf(tw, "  phase %s\t\t\t%d\t\t\t%.2f\t%.2f\t%.2f\t%.2f\t\t\n", name, p.Count, p.Latency.P50, p.Latency.P90, p.Latency.P99, p.Latency.Max)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, res := range r.Results {
		if res.TOTPWaits > 0 {
			fmt.Fprintf(w, "\n%s: waited %d times for an unused TOTP step: too few TOTP users for this rate\n", res.Scenario, res.TOTPWaits)
		}
		if len(res.ErrorsByKind) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s errors by kind (%.2f%% of operations):\n", res.Scenario, 100*res.ErrorRate)
		kinds := slices.SortedFunc(maps.Keys(res.ErrorsByKind), func(a, b string) int {
			return cmp.Compare(res.ErrorsByKind[b], res.ErrorsByKind[a])
		})
		for _, k := range kinds {
			fmt.Fprintf(w, "  %8d  %s\n           e.g. %s\n", res.ErrorsByKind[k], k, strings.ReplaceAll(res.ErrorExamples[k], "\n", " "))
		}
	}
	return nil
}
