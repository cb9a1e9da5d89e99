// This file holds the HTML renderer: the embedded templates, parsed once at
// start, executed with the request's Localizer and CSRF token.

package web

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/eu-health-idp/idp/idp/i18n"
	"github.com/eu-health-idp/idp/templates"
)

// Context keys the renderer reads.
const (
	// localizerKey holds the request's *i18n.Localizer, set by the
	// middleware that matches ui_locales / Accept-Language.
	localizerKey = "localizer"
	// csrfKey is echo's CSRF middleware default ContextKey.
	csrfKey = "csrf"
)

// layoutFile defines the "layout" template every page is rendered in.
const layoutFile = "layout.html"

var _ echo.Renderer = (*Renderer)(nil)

// Renderer renders the embedded templates; it implements echo.Renderer.
//
// Each page (a file of templates.FS other than layout.html, named by its
// file name without .html: "login", "error", "logged_out") is parsed with
// the layout into its own template set, so every page can define its own
// "title" and "content".
type Renderer struct {
	pages    map[string]*template.Template
	fallback *i18n.Localizer
}

// NewRenderer parses the layout and every page once. The English localizer
// of b is used when a request carries none (an error before the language
// middleware ran, for example).
func NewRenderer(b *i18n.Bundle) (*Renderer, error) {
	files, err := fs.Glob(templates.FS, "*.html")
	if err != nil {
		return nil, fmt.Errorf("web: list templates: %w", err)
	}
	r := &Renderer{
		pages:    make(map[string]*template.Template, len(files)),
		fallback: b.Localizer(i18n.Supported[0]),
	}
	for _, f := range files {
		if f == layoutFile {
			continue
		}
		t, err := template.New(f).Option("missingkey=zero").Funcs(templates.Funcs).ParseFS(templates.FS, layoutFile, f)
		if err != nil {
			return nil, fmt.Errorf("web: parse %s: %w", f, err)
		}
		for _, name := range []string{"layout", "title", "content"} {
			if t.Lookup(name) == nil {
				return nil, fmt.Errorf("web: %s: template %q is not defined", f, name)
			}
		}
		r.pages[strings.TrimSuffix(f, ".html")] = t
	}
	if len(r.pages) == 0 {
		return nil, fmt.Errorf("web: no page templates")
	}
	return r, nil
}

// Render executes page name with data, a map[string]any or nil. It adds "L"
// (the request's *i18n.Localizer, English when the context has none) and
// "CSRF" (echo's CSRF token, "" when absent) unless data already has them.
// The page is rendered into a buffer first, so a failing template never
// leaves half a page on w.
func (r *Renderer) Render(w io.Writer, name string, data any, c echo.Context) error {
	t, ok := r.pages[name]
	if !ok {
		return fmt.Errorf("web: unknown page %q", name)
	}
	var in map[string]any
	switch d := data.(type) {
	case nil:
	case map[string]any:
		in = d
	default:
		return fmt.Errorf("web: page %q: data must be map[string]any, got %T", name, data)
	}
	// Copy so the caller's map is not changed behind its back.
	m := make(map[string]any, len(in)+2)
	for k, v := range in {
		m[k] = v
	}
	if _, ok := m["L"]; !ok {
		m["L"] = r.localizer(c)
	}
	if _, ok := m["CSRF"]; !ok {
		m["CSRF"] = csrfToken(c)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", m); err != nil {
		return fmt.Errorf("web: render %q: %w", name, err)
	}
	_, err := buf.WriteTo(w)
	return err
}

func (r *Renderer) localizer(c echo.Context) *i18n.Localizer {
	if c != nil {
		if l, ok := c.Get(localizerKey).(*i18n.Localizer); ok && l != nil {
			return l
		}
	}
	return r.fallback
}

// localizer is the request's localizer (English when it has none).
func (s *Server) localizer(c echo.Context) *i18n.Localizer {
	if l, ok := c.Get(localizerKey).(*i18n.Localizer); ok && l != nil {
		return l
	}
	return s.I18n.Localizer(i18n.Supported[0])
}

func csrfToken(c echo.Context) string {
	if c != nil {
		if s, ok := c.Get(csrfKey).(string); ok {
			return s
		}
	}
	return ""
}
