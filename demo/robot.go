package demo

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/relay24/relay24/app"
	"github.com/relay24/relay24/automation"
	"github.com/relay24/relay24/bitrix/b24test"
)

// RobotStage is the deal stage on which the demo's automation rule sends a
// message: «В работе» of the general pipeline.
const RobotStage = "EXECUTING"

// RobotText is what the demo's robot sends.
const RobotText = "Здравствуйте! Ваш заказ собран и передан в доставку. Уютный дом"

// ConfigureRobot places relay24's robot on the demo portal's RobotStage, as
// an administrator does on the automation-rules board: send RobotText
// through the sandbox WhatsApp channel. The robot's channel list is brought
// up to date first (the sandbox account was connected without the settings
// page).
func ConfigureRobot(ctx context.Context, a *app.App, portalID int64, p *b24test.Portal) error {
	if err := a.Automation.RefreshRobot(ctx, portalID); err != nil {
		return err
	}
	chans, err := a.Store.Channels(ctx, portalID)
	if err != nil {
		return fmt.Errorf("demo: the channels for the robot: %w", err)
	}
	for _, ch := range chans {
		if ch.Transport == "whatsapp" {
			return p.SetStageRobot(b24test.StageRobot{StageID: RobotStage, Code: automation.RobotCode,
				Properties: map[string]string{"channel_id": strconv.FormatInt(ch.ID, 10), "text": RobotText}})
		}
	}
	return fmt.Errorf("demo: no WhatsApp channel to place the robot with")
}

// sandboxMove is POST /demo/deals/:id/stage (form stage): the sandbox's
// «move the deal» button; the portal runs the robots placed on the stage.
func sandboxMove(p *b24test.Portal) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := strconv.Atoi(c.Param("id"))
		if err != nil || id <= 0 {
			return echo.NewHTTPError(http.StatusBadRequest, "id must be a positive number")
		}
		stage := c.FormValue("stage")
		if stage == "" {
			return echo.NewHTTPError(http.StatusBadRequest, "stage is required")
		}
		calls, err := p.MoveDeal(c.Request().Context(), id, stage)
		if err != nil {
			return echo.NewHTTPError(http.StatusBadGateway, "the sandbox portal could not move the deal: "+err.Error())
		}
		statuses := make([]int, 0, len(calls))
		for _, call := range calls {
			statuses = append(statuses, call.Reply.Status)
		}
		return c.JSON(http.StatusOK, map[string]any{"stage": stage, "robots": statuses})
	}
}
