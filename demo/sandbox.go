package demo

import (
	_ "embed"
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/relay24/relay24/bitrix/b24test"
	"github.com/relay24/relay24/placement"
)

//go:embed sandbox.html
var sandboxHTML string

var sandboxPage = template.Must(template.New("sandbox").Parse(sandboxHTML))

// SandboxDeal is a deal the sandbox's menu lists.
type SandboxDeal struct {
	ID       int
	Title    string
	Contacts []string
}

// Sandbox mounts the pages that imitate the portal around relay24 on e:
//
//   - GET /demo: a left menu with «Общий чат» and a few deal cards with the
//     chat button, each showing the real placement page in an iframe;
//   - GET /demo/frame?placement=CODE&id=N: opens the placement on the
//     emulated portal as user (a genuine portal POST, a genuine session) and
//     answers the page relay24 rendered;
//   - POST /demo/deals/:id/stage: moves a deal to a stage, running the
//     robots placed there (ConfigureRobot).
//
// Demo mode and tests only: /demo/frame hands a session of user to anyone
// who can reach it.
func Sandbox(e *echo.Echo, p *b24test.Portal, user int, deals []int) {
	e.GET("/demo", func(c echo.Context) error {
		var list []SandboxDeal
		for _, id := range deals {
			d, ok := p.Deal(id)
			if !ok {
				continue
			}
			sd := SandboxDeal{ID: d.ID, Title: d.Title}
			for _, cid := range d.ContactIDs {
				if ct, ok := p.Contact(cid); ok {
					sd.Contacts = append(sd.Contacts, strings.TrimSpace(ct.Name+" "+ct.LastName))
				}
			}
			list = append(list, sd)
		}
		h := c.Response().Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-src 'self'")
		h.Set("Cache-Control", "no-store")
		h.Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
		c.Response().WriteHeader(http.StatusOK)
		proto := "0"
		if c.Scheme() == "https" {
			proto = "1"
		}
		return sandboxPage.Execute(c.Response(), map[string]any{"Deals": list, "Domain": p.Domain(), "RobotStage": RobotStage,
			"FrameName": c.Request().Host + "|" + proto + "|sandbox"})
	})
	e.POST("/demo/deals/:id/stage", sandboxMove(p))
	e.GET("/demo/frame", func(c echo.Context) error {
		code := strings.ToUpper(c.QueryParam("placement"))
		if code == "" {
			code = placement.LeftMenu
		}
		opts := map[string]string{}
		switch code {
		case placement.LeftMenu:
		case placement.DealToolbar, placement.LeadToolbar, placement.ContactToolbar:
			id, err := strconv.Atoi(c.QueryParam("id"))
			if err != nil || id <= 0 {
				return echo.NewHTTPError(http.StatusBadRequest, "id must be a positive number")
			}
			opts["ID"] = strconv.Itoa(id)
		default:
			return echo.NewHTTPError(http.StatusBadRequest, "unknown placement")
		}
		u := user
		if s := c.QueryParam("user"); s != "" {
			if n, err := strconv.Atoi(s); err == nil && n > 0 {
				u = n
			}
		}
		r, err := p.OpenPlacement(c.Request().Context(), code, opts, u)
		if err != nil {
			return echo.NewHTTPError(http.StatusBadGateway, "the sandbox portal could not open the placement: "+err.Error())
		}
		for _, k := range []string{"Content-Security-Policy", "Content-Type", "Referrer-Policy", "X-Content-Type-Options"} {
			if v := r.Header.Get(k); v != "" {
				c.Response().Header().Set(k, v)
			}
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		c.Response().WriteHeader(r.Status)
		_, err = c.Response().Write(r.Body)
		return err
	})
}
