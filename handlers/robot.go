package handlers

import (
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/relay24/relay24/problem"
)

// robot is the automation robot's handler (POST /b24/robot): the portal's
// queue server posts the documented form when a workflow reaches the robot.
// It is authenticated by the portal's application token and queued durably
// before the 200; the work and its report (bizproc.event.send) follow.
func (h *Handlers) robot(c echo.Context) error {
	var form map[string]any
	ct, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if ct == echo.MIMEApplicationJSON {
		// The docs' Python sample reads JSON; the portal posts a form.
		b, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &form); err != nil {
			return problem.Wrap(err, problem.Invalid, "malformed_form", "the request body is not a JSON object")
		}
		// The form path refuses a NUL up front (bitrix.CheckFormText); JSON
		// may carry one as \u0000, and nothing downstream wants it.
		if form, err = formOfJSON(form); err != nil {
			return err
		}
	} else {
		var err error
		if form, err = parseForm(c); err != nil {
			return err
		}
	}
	if h.Automation == nil {
		return problem.New(problem.NotFound, "not_found", "automation is not enabled")
	}
	if err := h.Automation.Accept(c.Request().Context(), form); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "accepted"})
}

// formOfJSON makes a JSON call look like the form (scalars as strings)
// and refuses a key or a string that holds a NUL, as the form path does.
func formOfJSON(m map[string]any) (map[string]any, error) {
	nul := false
	var conv func(v any) any
	conv = func(v any) any {
		switch t := v.(type) {
		case map[string]any:
			out := make(map[string]any, len(t))
			for k, e := range t {
				nul = nul || strings.IndexByte(k, 0) >= 0
				out[k] = conv(e)
			}
			return out
		case []any:
			out := make([]any, len(t))
			for i, e := range t {
				out[i] = conv(e)
			}
			return out
		case string:
			nul = nul || strings.IndexByte(t, 0) >= 0
			return t
		case float64, bool:
			b, _ := json.Marshal(t)
			return string(b)
		}
		return ""
	}
	out := conv(m).(map[string]any)
	if nul {
		return nil, problem.New(problem.Invalid, "malformed_form", "the request body holds a NUL character")
	}
	return out, nil
}

// channelsChanged brings the robot's channel list up to date; the change
// itself stands without it (a repair redoes it).
func (h *Handlers) channelsChanged(ctx context.Context, portalID int64) {
	if h.Automation == nil {
		return
	}
	if err := h.Automation.ChannelsChanged(ctx, portalID); err != nil {
		h.Log.WarnContext(ctx, "robot's channel list not scheduled", "error", err.Error())
	}
}
