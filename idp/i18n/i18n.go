// Package i18n holds the message catalogs of every page and message the
// identity provider shows to people, and chooses the language of a request.
//
// Catalogs are embedded JSON files (locales/<set>.<lang>.json), one flat
// object of stable message id -> text per file: "active" holds the pages of
// the server, and a factor may bring its own set named after it
// (locales/totp.<lang>.json). A message id belongs to exactly one set. Message ids never change
// meaning once released: templates, handlers and tests refer to them, so a
// new wording gets a new id. Texts may use Go template placeholders such as
// {{.Client}}; translations must keep every placeholder of the English text.
//
// The language of a request is chosen by the OIDC ui_locales parameter
// first, then the Accept-Language header, else English (the fallback for any
// message a catalog lacks).
package i18n

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

//go:embed locales/*.json
var locales embed.FS

// Supported lists the languages with a catalog, in the order of preference
// used to break ties. English comes first: it is the fallback.
var Supported = []language.Tag{
	language.English,
	language.Polish,
	language.Swedish,
	language.Hungarian,
	language.Dutch,
}

// Limits on untrusted input, so a hostile header cannot make matching costly.
const (
	maxHeaderLen  = 1024
	maxUILocales  = 16
	minConfidence = language.High
)

// Bundle holds the loaded catalogs and one Localizer per supported language.
// It is safe for concurrent use.
type Bundle struct {
	bundle     *goi18n.Bundle
	matcher    language.Matcher
	localizers []*Localizer // same index as Supported
	ids        []string
}

// New loads the five embedded catalogs.
func New() (*Bundle, error) {
	b := &Bundle{
		bundle:  goi18n.NewBundle(Supported[0]),
		matcher: language.NewMatcher(Supported),
	}
	for i, tag := range Supported {
		msgs, err := readCatalog(tag)
		if err != nil {
			return nil, err
		}
		for path, buf := range msgs.files {
			if _, err := b.bundle.ParseMessageFileBytes(buf, path); err != nil {
				return nil, fmt.Errorf("i18n: parse catalog %s: %w", path, err)
			}
		}
		if i == 0 {
			for id := range msgs.texts {
				b.ids = append(b.ids, id)
			}
			slices.Sort(b.ids)
		}
		b.localizers = append(b.localizers, &Localizer{
			lang: tag.String(),
			loc:  goi18n.NewLocalizer(b.bundle, tag.String()),
		})
	}
	return b, nil
}

// catalog is every message of one language, from all its files.
type catalog struct {
	files map[string][]byte // path -> content
	texts map[string]string // id -> text
}

// readCatalog reads and merges locales/*.<lang>.json, refusing an id
// defined in two files.
func readCatalog(tag language.Tag) (catalog, error) {
	c := catalog{files: map[string][]byte{}, texts: map[string]string{}}
	paths, err := fs.Glob(locales, "locales/*."+tag.String()+".json")
	if err != nil {
		return c, err
	}
	if len(paths) == 0 {
		return c, fmt.Errorf("i18n: no catalog for %s", tag)
	}
	for _, path := range paths {
		buf, err := locales.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("i18n: read catalog %s: %w", path, err)
		}
		var msgs map[string]string
		if err := json.Unmarshal(buf, &msgs); err != nil {
			return c, fmt.Errorf("i18n: parse catalog %s: %w", path, err)
		}
		for id, text := range msgs {
			if _, dup := c.texts[id]; dup {
				return c, fmt.Errorf("i18n: %s: message %q is defined twice", path, id)
			}
			c.texts[id] = text
		}
		c.files[path] = buf
	}
	return c, nil
}

// Match chooses the language of a request: the first of the space-separated
// OIDC ui_locales that we support well, then the best of Accept-Language,
// else English. Regional variants match their language ("nl-BE" -> nl).
// It always returns one of Supported.
func (b *Bundle) Match(uiLocales, acceptLanguage string) language.Tag {
	if uiLocales = truncate(uiLocales); uiLocales != "" {
		var tags []language.Tag
		for _, f := range strings.Fields(uiLocales) {
			if len(tags) == maxUILocales {
				break
			}
			if t, err := language.Parse(f); err == nil {
				tags = append(tags, t)
			}
		}
		if i, ok := b.match(tags); ok {
			return Supported[i]
		}
	}
	if acceptLanguage = truncate(acceptLanguage); acceptLanguage != "" {
		// A malformed header yields no tags (or the ones parsed before the
		// error); either way we fall through to English.
		tags, _, _ := language.ParseAcceptLanguage(acceptLanguage)
		if i, ok := b.match(tags); ok {
			return Supported[i]
		}
	}
	return Supported[0]
}

func (b *Bundle) match(tags []language.Tag) (int, bool) {
	if len(tags) == 0 {
		return 0, false
	}
	_, i, c := b.matcher.Match(tags...)
	return i, c >= minConfidence
}

func truncate(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > maxHeaderLen {
		s = s[:maxHeaderLen]
	}
	return s
}

// Localizer returns the localizer of tag, or of the closest supported
// language (English when none is close). Localizers are created once in New.
func (b *Bundle) Localizer(tag language.Tag) *Localizer {
	_, i, c := b.matcher.Match(tag)
	if c < minConfidence {
		i = 0
	}
	return b.localizers[i]
}

// IDs returns every message id of the English catalog, sorted.
func (b *Bundle) IDs() []string {
	return slices.Clone(b.ids)
}

// Localizer translates message ids into one language. It is safe for
// concurrent use and is meant to be called from templates:
//
//	{{.L.T "login.heading" "Client" .Client}}
type Localizer struct {
	lang string
	loc  *goi18n.Localizer
}

// Lang returns the BCP 47 tag of the language, for <html lang>: "pl".
func (l *Localizer) Lang() string { return l.lang }

// T returns the message id translated, with kv as alternating key/value
// pairs filling the message's placeholders: T("login.heading", "Client",
// "Portal"). A message missing from this language falls back to English; an
// unknown id returns the id itself, so a page never fails to render because
// of a missing text. A key without a value, or a non-string key, is ignored.
func (l *Localizer) T(id string, kv ...any) string {
	var data map[string]any
	if len(kv) > 0 {
		data = make(map[string]any, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			if k, ok := kv[i].(string); ok {
				data[k] = kv[i+1]
			}
		}
	}
	msg, err := l.loc.Localize(&goi18n.LocalizeConfig{MessageID: id, TemplateData: data})
	if msg == "" && err != nil {
		return id
	}
	return msg
}
