// This file is the dev outbox (dev mode only): every email, SMS and call
// the server would have sent, as a page and as JSON, with a phone keypad
// for calls. It is registered only when Deps.Dev is set, so in production
// /dev/outbox does not exist at all.

package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/eu-health-idp/idp/idp/store"
)

// outboxShown is how many messages the outbox lists.
const outboxShown = 100

// outboxEntry is one message in the JSON form of the outbox.
type outboxEntry struct {
	ID          int64     `json:"id"`
	Channel     string    `json:"channel"`
	Destination string    `json:"destination"`
	Subject     string    `json:"subject,omitempty"`
	Body        string    `json:"body"`
	HTML        string    `json:"html,omitempty"`
	Ref         string    `json:"ref"`
	Lang        string    `json:"lang"`
	Digits      int       `json:"digits,omitempty"`
	Reply       string    `json:"reply,omitempty"`
	Time        time.Time `json:"time"`
}

// outbox is GET /dev/outbox: JSON (newest last) when the client accepts
// application/json, else the page (newest first).
func (s *Server) outbox(c echo.Context) error {
	msgs, err := s.Store.OutboxMessages(c.Request().Context(), outboxShown)
	if err != nil {
		return err
	}
	if strings.Contains(c.Request().Header.Get(echo.HeaderAccept), echo.MIMEApplicationJSON) {
		out := make([]outboxEntry, len(msgs))
		for i, m := range msgs {
			out[i] = outboxEntry{
				ID: m.ID, Channel: m.Channel, Destination: m.To, Subject: m.Subject, Body: m.Text, HTML: m.HTML,
				Ref: m.Ref, Lang: m.Lang, Digits: m.Digits, Reply: m.Reply, Time: m.CreatedAt.UTC(),
			}
		}
		return c.JSON(http.StatusOK, map[string]any{"messages": out})
	}
	newest := make([]store.OutboxMessage, len(msgs))
	for i, m := range msgs {
		newest[len(msgs)-1-i] = m
	}
	return c.Render(http.StatusOK, "dev_outbox", map[string]any{"Messages": newest})
}

// outboxKeypad is POST /dev/outbox/keypad: type digits during a call, as
// the voice provider's callback would report them.
func (s *Server) outboxKeypad(c echo.Context) error {
	ctx := c.Request().Context()
	ref := c.FormValue("ref")
	m, err := s.Store.OutboxMessageByRef(ctx, ref)
	if err != nil {
		return &PageError{Status: http.StatusNotFound, MessageID: "error.not_found", Err: err}
	}
	var reply string
	if c.FormValue("op") == "hangup" {
		// The person did not answer, or hung up without typing.
		s.callEnded(c, ref)
		reply = s.localizer(c).T("outbox.hung_up")
	} else {
		reply = s.keypress(c, ref, strings.TrimSpace(c.FormValue("digits"))).Text
	}
	if err := s.Store.SetOutboxReply(ctx, m.ID, reply); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/dev/outbox")
}
