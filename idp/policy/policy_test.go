package policy

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eu-health-idp/idp/idp/assurance"
	"github.com/eu-health-idp/idp/idp/store"
)

const (
	low  = assurance.LoALow
	subs = assurance.LoASubstantial
	high = assurance.LoAHigh
)

func i64(v int64) *int64 { return &v }

func TestResolve(t *testing.T) {
	tab := assurance.DefaultTable("")
	floor := store.ClientPolicy{MinACR: subs, AllowedFactors: []string{"totp"}, FactorMaxAge: time.Hour, GraceDays: 14}
	withDefault := store.ClientPolicy{DefaultACR: high, MinACR: low}

	cases := []struct {
		name string
		p    store.ClientPolicy
		r    store.AuthRequest
		want Requirement
	}{
		{"a request asking nothing of a client without policy wants nothing",
			Default(), store.AuthRequest{}, Requirement{}},
		{"a request asking nothing gets the client's default acr",
			withDefault, store.AuthRequest{}, Requirement{Want: []string{high}, MinACR: low}},
		{"a request asking nothing of a client without default acr aims at its minimum",
			floor, store.AuthRequest{},
			Requirement{Want: []string{subs}, MinACR: subs, AllowedFactors: []string{"totp"}, FactorMaxAge: time.Hour, GraceDays: 14}},
		{"acr_values win over the client's default, in their order, unknown ones dropped",
			withDefault, store.AuthRequest{ACRValues: []string{"urn:nope", subs, low, subs}},
			Requirement{Want: []string{subs, low}, MinACR: low}},
		{"acr_values that are all unknown fall back to the client's default",
			withDefault, store.AuthRequest{ACRValues: []string{"urn:nope"}},
			Requirement{Want: []string{high}, MinACR: low}},
		{"short names in acr_values are not accepted from relying parties",
			Default(), store.AuthRequest{ACRValues: []string{"substantial"}}, Requirement{}},
		{"an essential acr claim wins over acr_values",
			withDefault, store.AuthRequest{ACRValues: []string{low}, Claims: `{"id_token":{"acr":{"essential":true,"values":["` + high + `","urn:nope"]}}}`},
			Requirement{Want: []string{high}, Essential: true, MinACR: low}},
		{"an essential acr claim with only unknown values is kept so the login fails",
			Default(), store.AuthRequest{Claims: `{"id_token":{"acr":{"essential":true,"value":"urn:nope"}}}`},
			Requirement{Want: []string{"urn:nope"}, Essential: true}},
		{"an essential acr claim in userinfo counts too",
			Default(), store.AuthRequest{Claims: `{"userinfo":{"acr":{"essential":true,"values":["` + subs + `"]}}}`},
			Requirement{Want: []string{subs}, Essential: true}},
		{"a voluntary acr claim is used when acr_values is absent",
			withDefault, store.AuthRequest{Claims: `{"id_token":{"acr":{"value":"` + subs + `"}}}`},
			Requirement{Want: []string{subs}, MinACR: low}},
		{"an essential acr claim without values is only a wish for the claim",
			withDefault, store.AuthRequest{Claims: `{"id_token":{"acr":{"essential":true}}}`},
			Requirement{Want: []string{high}, MinACR: low}},
		{"prompt=none and an id_token_hint are carried over",
			Default(), store.AuthRequest{Prompt: []string{"none"}, HintUserID: "u1", MaxAge: i64(300)},
			Requirement{PromptNone: true, HintUserID: "u1", MaxAge: i64(300)}},
		{"prompt=login is max_age=0",
			Default(), store.AuthRequest{Prompt: []string{"login"}, MaxAge: i64(300)},
			Requirement{MaxAge: i64(0)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Resolve(tab, c.p, &c.r)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
	t.Run("a malformed claims parameter is an error", func(t *testing.T) {
		if _, err := Resolve(tab, Default(), &store.AuthRequest{Claims: `{"id_token":{"acr":{"values":"a"}}}`}); err == nil {
			t.Fatal("want an error")
		}
	})
}

func TestParseClaimsACR(t *testing.T) {
	cases := []struct {
		name      string
		in        string
		essential bool
		values    []string
		err       bool
	}{
		{"essential with values", `{"id_token":{"acr":{"essential":true,"values":["a","b"]}}}`, true, []string{"a", "b"}, false},
		{"a single value comes first", `{"id_token":{"acr":{"value":"x","values":["y"]}}}`, false, []string{"x", "y"}, false},
		{"id_token wins over userinfo", `{"id_token":{"acr":{"value":"x"}},"userinfo":{"acr":{"value":"y"}}}`, false, []string{"x"}, false},
		{"userinfo is used when id_token does not ask", `{"id_token":{"acr":null},"userinfo":{"acr":{"essential":true,"value":"y"}}}`, true, []string{"y"}, false},
		{"acr requested with null", `{"id_token":{"acr":null}}`, false, nil, false},
		{"no acr at all", `{"userinfo":{"email":null}}`, false, nil, false},
		{"not JSON", `{nope`, false, nil, true},
		{"id_token that is not an object", `{"id_token":"acr"}`, false, nil, true},
		{"acr of the wrong type", `{"id_token":{"acr":{"values":"a"}}}`, false, nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseClaimsACR(c.in)
			if (err != nil) != c.err {
				t.Fatalf("err %v", err)
			}
			if got == nil {
				if c.values != nil || c.essential {
					t.Fatalf("got nil, want %v %v", c.essential, c.values)
				}
				return
			}
			if got.Essential != c.essential || !slices.Equal(got.Values, c.values) {
				t.Fatalf("got %+v", got)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tab := assurance.DefaultTable("")
	factors := []string{"totp", "sms", "recovery"}
	t.Run("the default policy is valid", func(t *testing.T) {
		if err := Validate(tab, Default(), factors); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a full policy is valid", func(t *testing.T) {
		p := store.ClientPolicy{AllowedFactors: []string{"totp", "recovery"}, MinACR: subs, DefaultACR: high, FactorMaxAge: time.Hour,
			GraceDays: 7, RememberDevice: true, RememberFor: time.Hour, AccountChangeFactors: []string{"totp"}}
		if err := Validate(tab, p, factors); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("an alias next to a level is not compared", func(t *testing.T) {
		if err := Validate(tab, store.ClientPolicy{MinACR: subs, DefaultACR: assurance.MFA}, nil); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("every problem is reported with its field", func(t *testing.T) {
		p := store.ClientPolicy{AllowedFactors: []string{"totp", "fax", "totp", ""}, MinACR: "substantial", DefaultACR: "urn:nope",
			FactorMaxAge: -time.Second, GraceDays: -1, RememberDevice: true, AccountChangeFactors: []string{"pigeon"}}
		err := Validate(tab, p, factors)
		want := []string{"min_acr", "default_acr", "allowed_factors", "allowed_factors", "allowed_factors",
			"account_change_factors", "factor_max_age", "grace_days", "remember_for"}
		var got []string
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			var fe *FieldError
			if !errors.As(e, &fe) {
				t.Fatalf("%v is not a FieldError", e)
			}
			got = append(got, fe.Field)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("fields %v, want %v:\n%v", got, want, err)
		}
		if !strings.Contains(err.Error(), `unknown factor "fax"`) || !strings.Contains(err.Error(), `"totp" is listed twice`) {
			t.Fatalf("messages: %v", err)
		}
	})
	t.Run("a default acr below the minimum is refused", func(t *testing.T) {
		err := Validate(tab, store.ClientPolicy{MinACR: subs, DefaultACR: low}, nil)
		if err == nil || !strings.Contains(err.Error(), "default_acr: ") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("unknown factors are not checked without a factor list", func(t *testing.T) {
		if err := Validate(tab, store.ClientPolicy{AllowedFactors: []string{"anything"}}, nil); err != nil {
			t.Fatal(err)
		}
	})
}
