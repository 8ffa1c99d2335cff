// Package automation puts relay24 into Bitrix24's automation (CONTRACT §5.1
// "Robot", bitrix24.md §m): the robot «Отправить сообщение (relay24)»
// (bizproc.robot.*), registered at install and on repair, whose calls are
// authenticated, queued and answered with bizproc.event.send; and the CRM
// triggers «Клиент написал» and «Нет ответа клиенту N минут»
// (crm.automation.trigger.*), fired once per occurrence. It works through
// relay.Service's public methods: a robot's message is a reply like any other.
package automation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/relay24/relay24/bitrix"
	"github.com/relay24/relay24/jobs"
	"github.com/relay24/relay24/portal"
	"github.com/relay24/relay24/relay"
	"github.com/relay24/relay24/store"
)

// RobotCode is the robot's CODE on every portal.
const RobotCode = "relay24_send"

// RobotPath is where the portal calls the robot (under PUBLIC_URL).
const RobotPath = "/b24/robot"

// Trigger codes (crm.automation.trigger.add: [a-z0-9.-_]).
const (
	TriggerClientWrote = "relay24_client_wrote"
	TriggerNoReply     = "relay24_no_reply"
)

// Job kinds.
const (
	JobRobot        = "automation.robot"         // one robot call: send, then bizproc.event.send
	JobTrigger      = "automation.trigger"       // one trigger occurrence: crm.automation.trigger.execute
	JobRobotOptions = "automation.robot_options" // the channel list of the robot's property, after a change
)

// TemplateSender sends an approved WABA template when a channel's
// customer-service window is closed. It is the hook for the templates work
// (CONTRACT §5.1 templates): until one is set, a robot with a template_id
// sends its text, and a robot with only a template_id ends with
// template_unavailable.
type TemplateSender interface {
	// WindowOpen reports whether free text may be sent to the dialog now.
	WindowOpen(ctx context.Context, portalID, dialogID int64) (bool, error)
	// SendTemplate accepts a template message like relay.Service.Send
	// accepts text: the same clientID twice is one message.
	SendTemplate(ctx context.Context, portalID int64, author relay.Author, dialogID int64, templateID string, values []string, clientID string) (*store.Message, error)
}

// Options configure the Service.
type Options struct {
	Store     *store.Store
	Portals   *portal.Service
	Relay     *relay.Service
	Jobs      *jobs.Queue
	Log       *slog.Logger
	PublicURL string
	Now       func() time.Time
	// Templates, when set, sends templates outside the window.
	Templates TemplateSender
	// SendWait is how long a robot waits for its message's fate before
	// reporting what it knows (default 90 s).
	SendWait time.Duration
}

// Service is relay24's automation.
type Service struct{ o Options }

// New makes the service.
func New(o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.SendWait == 0 {
		o.SendWait = 90 * time.Second
	}
	return &Service{o: o}
}

// SetTemplates wires the template sender (the templates work, when merged).
func (s *Service) SetTemplates(t TemplateSender) { s.o.Templates = t }

// Register installs the job handlers and the hooks into relay.
func (s *Service) Register(q *jobs.Queue) {
	q.Handle(JobRobot, s.robotJob)
	q.Handle(JobTrigger, s.triggerJob)
	q.Handle(JobRobotOptions, s.robotOptionsJob)
	// A trigger is one REST command: it goes in the same batch request as
	// the portal's other CRM work of the moment (timeline, notifications).
	q.ClaimTogether(JobTrigger)
}

func (s *Service) handlerURL() string { return strings.TrimRight(s.o.PublicURL, "/") + RobotPath }

// robotFields is the robot's complete definition (bizproc.robot.add; the
// same set in update: whether update merges PROPERTIES is not documented).
func (s *Service) robotFields(channels []store.Channel, userID int64) bitrix.Params {
	options := map[string]any{}
	for _, ch := range channels {
		options[strconv.FormatInt(ch.ID, 10)] = channelTitle(ch)
	}
	f := bitrix.Params{
		"HANDLER":          s.handlerURL(),
		"USE_SUBSCRIPTION": "Y",
		"USE_PLACEMENT":    "N",
		"NAME":             map[string]any{"ru": "Отправить сообщение (relay24)", "en": "Send a message (relay24)"},
		"DESCRIPTION": map[string]any{"ru": "Отправляет текст клиенту документа в WhatsApp, Telegram или другой канал relay24",
			"en": "Sends a text to the document's client through a relay24 channel (WhatsApp, Telegram…)"},
		"PROPERTIES": map[string]any{
			"channel_id": map[string]any{"Name": map[string]any{"ru": "Канал", "en": "Channel"}, "Type": "select",
				"Required": "Y", "Multiple": "N", "Options": options},
			// Not required: a template alone is a message too (the robot
			// ends with robot_empty_text when it has neither).
			"text": map[string]any{"Name": map[string]any{"ru": "Текст", "en": "Text"}, "Type": "text",
				"Required": "N", "Multiple": "N"},
			"template_id": map[string]any{"Name": map[string]any{"ru": "Шаблон WABA (если окно 24 ч закрыто)", "en": "WABA template (when the 24 h window is closed)"},
				"Type": "string", "Required": "N", "Multiple": "N"},
			"template_values": map[string]any{"Name": map[string]any{"ru": "Значения переменных шаблона, по одному в строке", "en": "The template's variable values, one a line"},
				"Type": "text", "Required": "N", "Multiple": "N"},
		},
		"RETURN_PROPERTIES": map[string]any{
			"message_id": map[string]any{"Name": map[string]any{"ru": "ID сообщения", "en": "Message ID"}, "Type": "string"},
			"status":     map[string]any{"Name": map[string]any{"ru": "Статус", "en": "Status"}, "Type": "string"},
			"error":      map[string]any{"Name": map[string]any{"ru": "Ошибка", "en": "Error"}, "Type": "string"},
		},
		"FILTER": map[string]any{"INCLUDE": []any{
			[]any{"crm", "CCrmDocumentDeal"}, []any{"crm", "CCrmDocumentLead"}, []any{"crm", "CCrmDocumentContact"},
		}},
	}
	if userID > 0 {
		f["AUTH_USER_ID"] = userID
	}
	return f
}

func channelTitle(ch store.Channel) string {
	name := ch.Name
	if name == "" {
		name = ch.PlainID
	}
	t := map[string]string{"whatsapp": "WhatsApp", "waba": "WhatsApp Business", "instagram": "Instagram", "telegram": "Telegram",
		"tgapi": "Telegram", "vk": "VK", "viber": "Viber", "avito": "Avito"}[ch.Transport]
	if t == "" {
		t = ch.Transport
	}
	if ch.Provider == "telegram" {
		t = "Telegram"
	}
	return t + " · " + name
}

// triggerNames are the triggers' NAMEs (a plain string: the portal's language).
func triggerNames(lang string) map[string]string {
	if lang == "en" {
		return map[string]string{TriggerClientWrote: "The client wrote (relay24)", TriggerNoReply: "No answer to the client for N minutes (relay24)"}
	}
	return map[string]string{TriggerClientWrote: "Клиент написал (relay24)", TriggerNoReply: "Нет ответа клиенту N минут (relay24)"}
}

// Ensure registers the robot and the triggers on a portal, idempotently:
// one request reads what this app registered, one batch adds what is
// missing and brings the robot's definition (its channel list) up to date.
// It is the portal's Registrar (install, repair): it tells the state of each
// item, and fails when any of them could not be registered.
func (s *Service) Ensure(ctx context.Context, c *bitrix.Client, r portal.Registration) ([]portal.AutomationState, error) {
	var channels []store.Channel
	if r.PortalID != 0 {
		var err error
		if channels, err = s.o.Store.Channels(ctx, r.PortalID); err != nil {
			return nil, err
		}
	}
	names := triggerNames(r.Lang)
	codes := make([]string, 0, len(names))
	for code := range names {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	states := []portal.AutomationState{{Kind: "robot", Code: RobotCode}}
	for _, code := range codes {
		states = append(states, portal.AutomationState{Kind: "trigger", Code: code})
	}
	// failAll marks what is not decided yet as failed for why.
	failAll := func(why error) ([]portal.AutomationState, error) {
		for i := range states {
			if states[i].State == "" {
				states[i].State, states[i].Reason = "failed", reason(why)
			}
		}
		return states, why
	}
	res, err := c.Batch(ctx, []bitrix.Command{
		{Key: "robots", Method: "bizproc.robot.list"},
		{Key: "triggers", Method: "crm.automation.trigger.list"},
	}, false)
	if err != nil {
		return failAll(err)
	}
	var robots []string
	var triggers []struct {
		Code string `json:"CODE"`
	}
	if e := res.Errors["robots"]; e != nil {
		states[0].State, states[0].Reason = "failed", reason(e)
	} else if err := json.Unmarshal(res.Result["robots"], &robots); err != nil {
		return failAll(fmt.Errorf("decoding bizproc.robot.list: %w", err))
	}
	if e := res.Errors["triggers"]; e != nil {
		for i := 1; i < len(states); i++ {
			states[i].State, states[i].Reason = "failed", reason(e)
		}
	} else if err := json.Unmarshal(res.Result["triggers"], &triggers); err != nil {
		return failAll(fmt.Errorf("decoding crm.automation.trigger.list: %w", err))
	}
	haveRobot := false
	for _, code := range robots {
		haveRobot = haveRobot || code == RobotCode
	}
	haveTrigger := map[string]bool{}
	for _, t := range triggers {
		haveTrigger[t.Code] = true
	}
	fields := s.robotFields(channels, r.UserID)
	var cmds []bitrix.Command
	idx := map[string]int{} // command key → its item
	if states[0].State == "" {
		if haveRobot {
			// There: kept up to date (its channel list).
			states[0].State = "registered"
			cmds = append(cmds, bitrix.Command{Key: "robot", Method: "bizproc.robot.update", Params: bitrix.Params{"CODE": RobotCode, "FIELDS": fields}})
		} else {
			states[0].State = "repaired"
			add := bitrix.Params{"CODE": RobotCode}
			for k, v := range fields {
				add[k] = v
			}
			cmds = append(cmds, bitrix.Command{Key: "robot", Method: "bizproc.robot.add", Params: add})
		}
		idx["robot"] = 0
	}
	for i := 1; i < len(states); i++ {
		st := &states[i]
		switch {
		case st.State != "":
		case haveTrigger[st.Code]:
			st.State = "registered"
		default:
			st.State = "repaired"
			key := "t_" + st.Code
			idx[key] = i
			cmds = append(cmds, bitrix.Command{Key: key, Method: "crm.automation.trigger.add", Params: bitrix.Params{"CODE": st.Code, "NAME": names[st.Code]}})
		}
	}
	if len(cmds) > 0 {
		out, err := c.Batch(ctx, cmds, false)
		if err != nil {
			for _, i := range idx {
				states[i].State, states[i].Reason = "failed", reason(err)
			}
			return states, err
		}
		for _, cmd := range cmds {
			e := out.Errors[cmd.Key]
			if e == nil {
				continue
			}
			st := &states[idx[cmd.Key]]
			if cmd.Method == "bizproc.robot.add" && e.Code == "ERROR_ACTIVITY_ALREADY_INSTALLED" {
				// Added meanwhile (a concurrent install): bring it up to date.
				if err := c.Call(ctx, "bizproc.robot.update", bitrix.Params{"CODE": RobotCode, "FIELDS": fields}, nil); err != nil {
					st.State, st.Reason = "failed", reason(err)
				} else {
					st.State = "registered"
				}
				continue
			}
			st.State, st.Reason = "failed", reason(e)
		}
	}
	var errs []error
	for _, st := range states {
		if st.State == "failed" {
			errs = append(errs, fmt.Errorf("%s %s: %s", st.Kind, st.Code, st.Reason))
		}
	}
	return states, errors.Join(errs...)
}

// reason is why an item failed, as the portal said it (its code and text).
func reason(err error) string {
	var be *bitrix.Error
	if errors.As(err, &be) {
		if be.Description == "" {
			return be.Code
		}
		return strings.TrimSpace(be.Code + " " + be.Description)
	}
	return err.Error()
}

// ChannelsChanged schedules bringing the robot's channel list up to date
// (after a channel was connected or disconnected).
func (s *Service) ChannelsChanged(ctx context.Context, portalID int64) error {
	_, err := s.o.Jobs.Enqueue(ctx, s.o.Store.DB(), JobRobotOptions, map[string]int64{"portal_id": portalID},
		jobs.Options{PortalID: portalID, UniqueKey: "robot.options:" + strconv.FormatInt(portalID, 10)})
	if err != nil {
		return fmt.Errorf("scheduling the robot's channel list: %w", err)
	}
	return nil
}

// robotOptionsJob updates the robot's definition with the portal's channels.
func (s *Service) robotOptionsJob(ctx context.Context, j *jobs.Job) error {
	if !j.PortalID.Valid {
		return jobs.Permanent(fmt.Errorf("job has no portal"))
	}
	return s.RefreshRobot(ctx, j.PortalID.Int64)
}

// RefreshRobot brings the robot's definition (its channel list) up to date
// now; a robot removed from the portal is registered again.
func (s *Service) RefreshRobot(ctx context.Context, portalID int64) error {
	p, err := s.o.Store.PortalByID(ctx, portalID)
	if err != nil {
		return err
	}
	if !p.Active() {
		return nil
	}
	c, err := s.o.Portals.Client(ctx, portalID)
	if err != nil {
		return portal.JobError(err)
	}
	channels, err := s.o.Store.Channels(ctx, portalID)
	if err != nil {
		return err
	}
	err = c.Call(ctx, "bizproc.robot.update", bitrix.Params{"CODE": RobotCode, "FIELDS": s.robotFields(channels, p.TokenUserID.Int64)}, nil)
	if bitrix.HasCode(err, "ERROR_ACTIVITY_NOT_FOUND") {
		// Removed from the portal: registered again in full.
		_, err := s.Ensure(ctx, c, portal.Registration{PortalID: portalID, UserID: p.TokenUserID.Int64, Lang: p.Lang})
		return portal.JobError(err)
	}
	if err != nil {
		return portal.JobError(fmt.Errorf("updating the robot's channels: %w", err))
	}
	return nil
}
