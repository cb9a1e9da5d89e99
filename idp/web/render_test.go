package web

import (
	"bytes"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"golang.org/x/text/language"

	"github.com/eu-health-idp/idp/idp/i18n"
	"github.com/eu-health-idp/idp/templates"
)

func newRenderer(t *testing.T) (*Renderer, *i18n.Bundle) {
	t.Helper()
	b, err := i18n.New()
	if err != nil {
		t.Fatalf("i18n.New: %v", err)
	}
	r, err := NewRenderer(b)
	if err != nil {
		t.Fatalf("NewRenderer: %v", err)
	}
	return r, b
}

func newContext() echo.Context {
	e := echo.New()
	req := httptest.NewRequest(http.MethodGet, "/login", nil)
	return e.NewContext(req, httptest.NewRecorder())
}

func render(t *testing.T, r *Renderer, c echo.Context, page string, data any) string {
	t.Helper()
	var buf bytes.Buffer
	if err := r.Render(&buf, page, data, c); err != nil {
		t.Fatalf("Render(%q): %v", page, err)
	}
	return buf.String()
}

func mustContain(t *testing.T, html string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(html, p) {
			t.Errorf("page lacks %q", p)
		}
	}
	if t.Failed() {
		t.Logf("page:\n%s", html)
	}
}

func TestRenderLogin(t *testing.T) {
	r, b := newRenderer(t)

	t.Run("it renders in the request's language with the CSRF token", func(t *testing.T) {
		c := newContext()
		c.Set("localizer", b.Localizer(language.Polish))
		c.Set("csrf", "tok-123")
		html := render(t, r, c, "login", map[string]any{
			"FlowID":        "req-9",
			"Username":      "anna",
			"Client":        "Pacjent <Portal>",
			"Error":         "login.error.required",
			"UsernameError": "",
			"PasswordError": "login.error.password_required",
		})
		mustContain(t, html,
			`<html lang="pl">`,
			`<title>Logowanie</title>`,
			`<h1>Zaloguj się do serwisu Pacjent &lt;Portal&gt;</h1>`,
			`<link rel="stylesheet" href="/static/idp.css">`,
			`<meta name="viewport"`,
			`<main id="main"`,
			`href="#main">Przejdź do treści głównej</a>`,
			`<form class="form" method="post" action="/login" aria-describedby="form-error">`,
			`<input type="hidden" name="csrf" value="tok-123">`,
			`<input type="hidden" name="flow" value="req-9">`,
			`role="alert"`,
			`Wpisz nazwę użytkownika i hasło.`,
			`name="username" type="text" value="anna" autocomplete="username" autocapitalize="none"`,
			`spellcheck="false" required>`,
			`type="password" autocomplete="current-password" required aria-invalid="true" aria-describedby="password-error">`,
			`<p class="field__error" id="password-error">Wpisz hasło.</p>`,
			`<label class="field__label" for="username">Nazwa użytkownika</label>`,
			`<label class="field__label" for="password">Hasło</label>`,
			`<button class="button" type="submit">Zaloguj się</button>`,
		)
		if strings.Contains(html, "username-error") {
			t.Error("username field marked as erroneous without UsernameError")
		}
	})

	t.Run("a field error alone is announced", func(t *testing.T) {
		html := render(t, r, newContext(), "login", map[string]any{
			"Client":        "Portal",
			"UsernameError": "login.error.username_required",
		})
		mustContain(t, html,
			`<p class="field__error" id="username-error" role="alert">Enter your username.</p>`,
			`aria-invalid="true" aria-describedby="username-error"`,
		)
		if strings.Contains(html, `id="form-error"`) {
			t.Error("form-level alert shown without Error")
		}
	})

	t.Run("without errors no alert is shown", func(t *testing.T) {
		html := render(t, r, newContext(), "login", map[string]any{"Client": "Portal"})
		if strings.Contains(html, "alert") || strings.Contains(html, "aria-invalid") {
			t.Errorf("unexpected error markup:\n%s", html)
		}
	})
}

func TestRenderFallsBackToEnglishAndNoCSRF(t *testing.T) {
	r, _ := newRenderer(t)
	html := render(t, r, newContext(), "login", nil)
	mustContain(t, html, `<html lang="en">`, `<title>Sign in</title>`, `name="csrf" value=""`)
}

func TestRenderKeepsLAndCSRFFromData(t *testing.T) {
	r, b := newRenderer(t)
	c := newContext()
	c.Set("csrf", "from-context")
	data := map[string]any{"L": b.Localizer(language.Dutch), "CSRF": "from-data"}
	html := render(t, r, c, "login", data)
	mustContain(t, html, `<html lang="nl">`, `value="from-data"`)
	if len(data) != 2 {
		t.Errorf("Render changed the caller's map: %v", data)
	}
}

func TestRenderError(t *testing.T) {
	r, b := newRenderer(t)
	c := newContext()
	c.Set("localizer", b.Localizer(language.Swedish))

	t.Run("it shows the message with its detail and the reference", func(t *testing.T) {
		html := render(t, r, c, "error", map[string]any{
			"Message":   "error.invalid_request",
			"Detail":    "missing <scope>",
			"Reference": "ab12cd",
		})
		mustContain(t, html,
			`<title>Något gick fel</title>`,
			`Tjänsten skickade en ogiltig begäran: missing &lt;scope&gt;`,
			`Gå tillbaka till tjänsten och försök igen.`,
			`Referens: ab12cd`,
		)
	})
	t.Run("without detail and reference it still renders", func(t *testing.T) {
		html := render(t, r, c, "error", map[string]any{"Message": "error.not_found"})
		mustContain(t, html, `Sidan finns inte.`)
		if strings.Contains(html, "Referens") || strings.Contains(html, "no value") {
			t.Errorf("unexpected output:\n%s", html)
		}
	})
	t.Run("without a message it shows the generic error", func(t *testing.T) {
		html := render(t, r, c, "error", nil)
		mustContain(t, html, `Ett oväntat fel uppstod. Försök igen.`)
	})
}

func TestRenderLoggedOut(t *testing.T) {
	r, b := newRenderer(t)
	c := newContext()
	c.Set("localizer", b.Localizer(language.Hungarian))
	html := render(t, r, c, "logged_out", nil)
	mustContain(t, html, `<html lang="hu">`, `<title>Kijelentkezett</title>`, `Ön kijelentkezett.`)
}

func TestRenderRejectsUnknownPagesAndData(t *testing.T) {
	r, _ := newRenderer(t)
	var buf bytes.Buffer
	if err := r.Render(&buf, "nope", nil, newContext()); err == nil {
		t.Error("unknown page: no error")
	}
	if err := r.Render(&buf, "layout", nil, newContext()); err == nil {
		t.Error("layout rendered as a page")
	}
	if err := r.Render(&buf, "login", struct{}{}, newContext()); err == nil {
		t.Error("non-map data: no error")
	}
	if buf.Len() != 0 {
		t.Errorf("failed renders wrote %q", buf.String())
	}
}

// TestTemplatesUseOnlyKnownMessageIDs scans every template for literal
// message ids ({{.L.T "id"}}, {{$.L.T "id"}}) and ids passed as page data
// in this test file's conventions, and checks they exist in the catalog.
func TestTemplatesUseOnlyKnownMessageIDs(t *testing.T) {
	_, b := newRenderer(t)
	ids := b.IDs()
	literal := regexp.MustCompile(`\.L\.T\s+(?:\(\s*or\s+\S+\s+)?"([^"]+)"`)
	files, err := fs.Glob(templates.FS, "*.html")
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, f := range files {
		buf, err := fs.ReadFile(templates.FS, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range literal.FindAllStringSubmatch(string(buf), -1) {
			found++
			if !slices.Contains(ids, m[1]) {
				t.Errorf("%s uses unknown message id %q", f, m[1])
			}
		}
	}
	if found < 10 {
		t.Errorf("found only %d message ids in templates; is the regexp still right?", found)
	}
}

func TestTemplatesHaveNoScriptOrInlineStyle(t *testing.T) {
	bad := regexp.MustCompile(`(?i)<script|<style|\sstyle=|\son[a-z]+=|javascript:|https?://`)
	// The one kind of script allowed: an empty element loading a file of
	// ours, which default-src 'self' permits (inline code it does not).
	ours := regexp.MustCompile(`<script src="/static/[a-z]+\.js" defer></script>`)
	files, _ := fs.Glob(templates.FS, "*.html")
	for _, f := range files {
		buf, _ := fs.ReadFile(templates.FS, f)
		buf = ours.ReplaceAll(buf, nil)
		if loc := bad.FindIndex(buf); loc != nil {
			t.Errorf("%s: %q is not allowed under the CSP", f, buf[loc[0]:loc[1]])
		}
	}
}
