package i18n

import (
	"maps"
	"regexp"
	"slices"
	"testing"

	"golang.org/x/text/language"
)

func newBundle(t *testing.T) *Bundle {
	t.Helper()
	b, err := New()
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return b
}

func readTexts(t *testing.T, tag language.Tag) map[string]string {
	t.Helper()
	c, err := readCatalog(tag)
	if err != nil {
		t.Fatalf("read %s: %v", tag, err)
	}
	return c.texts
}

func TestCatalogsHaveTheSameKeys(t *testing.T) {
	en := readTexts(t, language.English)
	want := slices.Sorted(maps.Keys(en))
	for _, tag := range Supported[1:] {
		t.Run(tag.String(), func(t *testing.T) {
			got := readTexts(t, tag)
			for _, id := range want {
				if _, ok := got[id]; !ok {
					t.Errorf("missing %q", id)
				}
			}
			for id := range got {
				if _, ok := en[id]; !ok {
					t.Errorf("extra %q (not in English)", id)
				}
			}
		})
	}
}

var placeholder = regexp.MustCompile(`\{\{\s*\.(\w+)\s*\}\}`)

func TestTranslationsKeepEveryPlaceholder(t *testing.T) {
	en := readTexts(t, language.English)
	for _, tag := range Supported[1:] {
		cat := readTexts(t, tag)
		for id, text := range en {
			for _, m := range placeholder.FindAllStringSubmatch(text, -1) {
				if !regexp.MustCompile(`\{\{\s*\.` + m[1] + `\s*\}\}`).MatchString(cat[id]) {
					t.Errorf("%s %q lacks {{.%s}}: %q", tag, id, m[1], cat[id])
				}
			}
		}
	}
}

func TestTranslationsAreNotEnglishCopies(t *testing.T) {
	en := readTexts(t, language.English)
	for _, tag := range Supported[1:] {
		cat := readTexts(t, tag)
		same := 0
		for id, text := range en {
			if cat[id] == text {
				same++
			}
			if cat[id] == "" {
				t.Errorf("%s %q is empty", tag, id)
			}
		}
		if same > 0 {
			t.Errorf("%s: %d messages are identical to English", tag, same)
		}
	}
}

func TestMatch(t *testing.T) {
	b := newBundle(t)
	tests := []struct {
		name, ui, accept string
		want             language.Tag
	}{
		{"ui_locales picks its first supported language", "hu pl", "", language.Hungarian},
		{"ui_locales wins over Accept-Language", "pl", "sv", language.Polish},
		{"an unsupported ui_locale is skipped", "de nl", "", language.Dutch},
		{"an unknown ui_locale falls back to Accept-Language", "xx", "sv-SE,sv;q=0.9", language.Swedish},
		{"a regional variant matches its language", "nl-BE", "", language.Dutch},
		{"Accept-Language quality values are honoured", "", "de;q=0.9,pl;q=0.5,en;q=0.1", language.Polish},
		{"a malformed Accept-Language falls back to English", "", ";;;q=x", language.English},
		{"nothing falls back to English", "", "", language.English},
		{"unsupported languages fall back to English", "fr", "de-DE", language.English},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := b.Match(tt.ui, tt.accept); got != tt.want {
				t.Errorf("Match(%q, %q) = %v, want %v", tt.ui, tt.accept, got, tt.want)
			}
		})
	}
}

func TestLocalizer(t *testing.T) {
	b := newBundle(t)
	t.Run("it is cached per language", func(t *testing.T) {
		if b.Localizer(language.Polish) != b.Localizer(language.MustParse("pl-PL")) {
			t.Error("pl and pl-PL got different localizers")
		}
	})
	t.Run("it reports its language", func(t *testing.T) {
		for _, tag := range Supported {
			if got := b.Localizer(tag).Lang(); got != tag.String() {
				t.Errorf("Lang() = %q, want %q", got, tag)
			}
		}
		if got := b.Localizer(language.French).Lang(); got != "en" {
			t.Errorf("unsupported language: Lang() = %q, want en", got)
		}
	})
	t.Run("T fills placeholders from key/value pairs", func(t *testing.T) {
		cases := map[language.Tag]string{
			language.English: "Sign in to Portal",
			language.Polish:  "Zaloguj się do serwisu Portal",
			language.Dutch:   "Inloggen bij Portal",
		}
		for tag, want := range cases {
			if got := b.Localizer(tag).T("login.heading", "Client", "Portal"); got != want {
				t.Errorf("%s: T = %q, want %q", tag, got, want)
			}
		}
		if got := b.Localizer(language.Swedish).T("password.too_short", "Min", 12); got != "Använd minst 12 tecken." {
			t.Errorf("T with an int = %q", got)
		}
	})
	t.Run("T without data returns the plain message", func(t *testing.T) {
		if got := b.Localizer(language.Hungarian).T("login.password"); got != "Jelszó" {
			t.Errorf("T = %q", got)
		}
	})
	t.Run("T of an unknown id returns the id", func(t *testing.T) {
		if got := b.Localizer(language.Polish).T("no.such.id", "X"); got != "no.such.id" {
			t.Errorf("T = %q", got)
		}
	})
}

func TestIDs(t *testing.T) {
	b := newBundle(t)
	ids := b.IDs()
	if !slices.IsSorted(ids) || !slices.Contains(ids, "login.heading") || len(ids) != len(readTexts(t, language.English)) {
		t.Errorf("IDs() = %v", ids)
	}
	for _, id := range ids {
		if got := b.Localizer(language.English).T(id, "Client", "c", "ID", "1", "Detail", "d", "Min", 1, "Max", 2); got == id || got == "" {
			t.Errorf("T(%q) = %q", id, got)
		}
	}
}

func TestLocalizerIsSafeForConcurrentUse(t *testing.T) {
	b := newBundle(t)
	done := make(chan struct{})
	for range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for _, tag := range Supported {
				l := b.Localizer(b.Match(tag.String(), ""))
				_ = l.T("login.heading", "Client", "Portal")
				_ = l.T("password.too_short", "Min", 12)
			}
		}()
	}
	for range 8 {
		<-done
	}
}
