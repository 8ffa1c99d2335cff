// Package gateway puts each messaging gateway relay24 speaks to (Wazzup's
// WhatsApp/Instagram/…, a Telegram bot) behind one interface, Gateway, with
// one adapter per gateway (Wazzup, Telegram). Everything that depends on
// which gateway a channel belongs to — how its webhook reads, how a reply,
// a file or a template leaves, how a client's file is opened, how its
// webhook is registered, its credentials checked and channels listed, its
// limits and reply window — is decided here; relay's conversation code looks
// the adapter up by the gateway's provider name (Registry.Lookup) and asks.
//
// Adapters hold no credentials: every call gets the gateway's credential
// (the Wazzup API key, the bot token) opened by relay.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/relay24/relay24/filestore"
	"github.com/relay24/relay24/store"
)

// Provider names, as stored in gateways.provider and channels.provider and
// used in the webhook URLs (/webhooks/<provider>/<key>).
const (
	ProviderWazzup   = "wazzup"
	ProviderTelegram = "telegram"
)

// Gateway is one messaging gateway. Methods taking cred get the gateway's
// opened credential. Errors of Connect and RegisterWebhook are problems the
// admin is told as they are; errors of SendText, SendFile and SendTemplate
// are *SendError when the gateway answered something relay must act on.
type Gateway interface {
	// Provider is the gateway's name (ProviderWazzup, ProviderTelegram).
	Provider() string
	// Traits are the gateway's fixed behaviours relay plans around.
	Traits() Traits

	// Credential checks the admin's connect form and returns the credential
	// to store (sealed) and use; a bad one is a problem (400).
	Credential(r ConnectRequest) (string, error)
	// Connect checks the credential with the gateway and lists the channels
	// it serves: the account to store and its channels.
	Connect(ctx context.Context, cred string) (Account, error)
	// Channels lists the account's channels now (a channel added after
	// connecting is learnt from it).
	Channels(ctx context.Context, cred string) ([]Channel, error)
	// RegisterWebhook points the gateway's webhook at url; secret is the
	// token the gateway sends back with every webhook when
	// Traits().WebhookSecret ("" otherwise).
	RegisterWebhook(ctx context.Context, cred, url, secret string) error
	// UnregisterWebhook stops the gateway's webhooks (on disconnect); a
	// gateway whose webhook goes with its account does nothing.
	UnregisterWebhook(ctx context.Context, cred string) error

	// CheckWebhook is the quick look at a webhook body before it is stored
	// and acknowledged: probe is a test the gateway sends to see relay24
	// answer (acknowledged, not stored); an error refuses the body (400).
	CheckWebhook(body []byte) (probe bool, err error)
	// ParseWebhook reads a stored webhook body into relay's neutral terms;
	// account is the gateway's account id (a bot's id: its one channel).
	// An error is permanent: no retry makes the body readable.
	ParseWebhook(body []byte, account string) (*Inbound, error)

	// TextLimit is the longest text a message through a channel of that
	// transport may carry, in TextLen units.
	TextLimit(transport string) int
	// TextLen measures a text as the gateway counts it.
	TextLen(text string) int
	// ChatType is the messenger of a transport's chats ("whatsapp",
	// "telegram", ...), which dialogs are keyed by.
	ChatType(transport string) string
	// PlanFile checks a file against the channel's limits (type, size,
	// caption) and says how it leaves; a refusal is a problem (400) naming
	// the limit.
	PlanFile(to Target, f *filestore.File, text string) (FilePlan, error)
	// ReplyWindow is how long after the client's last message the channel
	// lets a free-form reply out; 0: no window. After it only a template
	// may be sent (WhatsApp Business, Wazzup transport "wapi": 24 hours;
	// Instagram: 7 days). It is the one source of the window: relay
	// refuses a plain reply to a closed window with it, and the chat shows it.
	ReplyWindow(transport string) time.Duration
	// TemplatesOn reports whether a channel of the transport sends
	// templates (WhatsApp Business only).
	TemplatesOn(transport string) bool

	// SendText sends a text reply.
	SendText(ctx context.Context, cred string, out Outgoing) (Sent, error)
	// SendFile sends a file reply (with out.Text as its caption when the
	// plan said so).
	SendFile(ctx context.Context, cred string, out Outgoing, f OutFile) (Sent, error)
	// SendTemplate sends an approved template (the only message a
	// WhatsApp Business channel lets out after ReplyWindow); a gateway
	// without templates returns *NotSupportedError.
	SendTemplate(ctx context.Context, cred string, out Outgoing, t Template) (Sent, error)
	// Templates lists the account's templates, every status, each with the
	// channels it is bound to; a gateway without templates returns
	// *NotSupportedError.
	Templates(ctx context.Context, cred string) ([]Template, error)
	// OpenAttachment opens a client's file by the reference its message
	// carries when that reference starts with Traits().FileRefPrefix;
	// errors are *AttachmentError. A gateway whose files are public links
	// (FileRefPrefix "") returns *NotSupportedError: relay fetches them.
	OpenAttachment(ctx context.Context, cred, ref string) (*Download, error)
}

// Traits are what relay plans around, per gateway.
type Traits struct {
	// Title names the gateway to a person ("Wazzup", "Telegram").
	Title string
	// DedupeWindow is how long the gateway refuses a repeated send with the
	// same Outgoing.Ref: a retry inside it cannot send twice. 0: the gateway
	// has no idempotency key, and a send that may have left is not repeated.
	DedupeWindow time.Duration
	// WebhookSecret: the gateway sends a secret token back with every
	// webhook (checked besides the key in the URL).
	WebhookSecret bool
	// LearnsChannels: channels may be added to the account after connecting,
	// learnt from its listing when they first show up.
	LearnsChannels bool
	// FileRefPrefix starts the reference of a client's file that only the
	// gateway can open (OpenAttachment); "" when its files are public links.
	FileRefPrefix string
}

// ConnectRequest is what an admin posts to connect a gateway.
type ConnectRequest struct {
	Provider string `json:"provider"`
	APIKey   string `json:"api_key"`
	BotToken string `json:"bot_token"`
}

// Account is a gateway account as connecting found it.
type Account struct {
	// ID is stable per account: connecting it again finds the same gateway.
	ID       string
	Channels []Channel
}

// Channel is a channel as its gateway lists it.
type Channel struct {
	ExternalID string
	Transport  string // lower-case ("whatsapp", "wapi", "instagram", "telegram", ...)
	Name       string
	PlainID    string
	State      string // "active" or the gateway's word, lower-cased
}

// Target is where a reply goes: a chat of a channel.
type Target struct {
	ChannelExt string // the channel's id at the gateway
	Transport  string
	ChatType   string
	ChatID     string
}

// Outgoing is a reply to send.
type Outgoing struct {
	Target
	// Ref is relay24's id of the reply, sent where the gateway keeps one
	// (Wazzup's crmMessageId, which it refuses twice in DedupeWindow).
	Ref string
	// AuthorID is the CRM user who wrote it ("" when none).
	AuthorID string
	Text     string
}

// OutFile is an uploaded file to send: by its public link, or its bytes.
type OutFile struct {
	Name string
	// URL is the short-lived public link a gateway fetches the file by.
	URL string
	// Open reads the file from relay's storage (a problem NotFound when it
	// is gone).
	Open func(ctx context.Context) (*filestore.File, error)
}

// Sent is a gateway's answer to a send.
type Sent struct {
	// MessageID is the gateway's id of the message, as its webhooks name
	// it ("" when unknown: its echo will bring it).
	MessageID string
}

// Template is a message template of a gateway account (WhatsApp
// Business), as listed, or as sent (ID and Params).
type Template struct {
	// ID is the gateway's id of the template (Wazzup's templateGuid).
	ID string
	// Title names it to a person; Name is its name at Meta.
	Title    string
	Name     string
	Language string
	Category string
	Status   string // lower case; "approved" may be sent
	// Channels are the external ids of the channels it is bound to.
	Channels []string
	// Text is the body with its {{n}} placeholders; Variables how many
	// values a send takes.
	Text      string
	Variables int
	Raw       []byte
	// Params fill the template's placeholders, in order (a send).
	Params []string
}

// TemplateStatus is a template's new moderation status, as a gateway's
// webhook announced it.
type TemplateStatus struct {
	ID     string
	Name   string
	Status string // lower case
}

// FilePlan is how a file reply leaves its channel.
type FilePlan struct {
	// Caption: the text goes as the file's caption; otherwise it follows
	// as a message of its own once the file has left.
	Caption bool
}

// Download is a gateway's file being read.
type Download struct {
	Body io.ReadCloser
	// Size is the declared length, -1 when unknown.
	Size int64
	// Path is the gateway's path of the file (its name and type).
	Path string
}

// Outcome is what a failed send means for the reply.
type Outcome int

const (
	// Refused: the gateway refused it; it did not leave and will not.
	Refused Outcome = iota
	// NotSent: it surely did not leave (the gateway is busy); try again,
	// after RetryAfter when given.
	NotSent
	// Uncertain: no proper answer; it may have left.
	Uncertain
	// AlreadySent: an earlier attempt got through (a repeated Ref).
	AlreadySent
)

// SendError is a send's failure as relay acts on it.
type SendError struct {
	Outcome Outcome
	// Code is the catalogue code of a refusal ("send_refused", ...), kept
	// with Detail in messages.error (see Failure).
	Code       string
	Detail     string
	RetryAfter time.Duration
	Err        error
}

func (e *SendError) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return e.Reason()
}

func (e *SendError) Unwrap() error { return e.Err }

// Reason is what messages.error keeps of a refusal (see Failure).
func (e *SendError) Reason() string { return Failure(e.Code, e.Detail) }

// failure is a SendError of a refusal, with the words of err (the
// gateway's, when it answered) unless it is nil. Its code is written literally at every call: a test
// of web checks that each has its text in the catalogue.
func failure(code string, err error) *SendError {
	d := ""
	if err != nil {
		d = ErrorText(err)
	}
	return &SendError{Outcome: Refused, Code: code, Detail: d, Err: err}
}

// AttachmentError is why a gateway's file could not be opened.
type AttachmentError struct {
	// Permanent: no retry will get the file.
	Permanent bool
	// Reason says what happened, to a person.
	Reason string
	// Problem is what the chat's user is told.
	Problem error
	Err     error
}

func (e *AttachmentError) Error() string { return e.Reason }
func (e *AttachmentError) Unwrap() error { return e.Err }

// NotSupportedError is an operation a gateway does not have (a Telegram
// bot has no templates).
type NotSupportedError struct {
	Provider string
	Op       string
}

func (e *NotSupportedError) Error() string {
	return fmt.Sprintf("%s does not support %s", e.Provider, e.Op)
}

// ErrNotSupported matches every *NotSupportedError with errors.Is.
var ErrNotSupported = errors.New("not supported by the gateway")

// Is makes errors.Is(err, ErrNotSupported) hold.
func (e *NotSupportedError) Is(target error) bool { return target == ErrNotSupported }

// Failure is why a reply was not sent, as messages.error keeps it: a code of
// the catalogue (web: "err_" + code), then after ": " the gateway's own
// words, if any. The chat shows the code's text in the reader's language.
func Failure(code, detail string) string {
	if detail = strings.TrimSpace(detail); detail != "" {
		return code + ": " + detail
	}
	return code
}

// Registry finds a gateway's adapter by its provider name.
type Registry struct {
	m map[string]Gateway
}

// NewRegistry holds the given adapters.
func NewRegistry(gws ...Gateway) *Registry {
	r := &Registry{m: make(map[string]Gateway, len(gws))}
	for _, g := range gws {
		r.m[g.Provider()] = g
	}
	return r
}

// Lookup is the adapter of a provider.
func (r *Registry) Lookup(provider string) (Gateway, bool) {
	g, ok := r.m[provider]
	return g, ok
}

// ForFileRef is the adapter whose private file references start ref
// (Traits.FileRefPrefix); false for a public link.
func (r *Registry) ForFileRef(ref string) (Gateway, bool) {
	for _, g := range r.m {
		if p := g.Traits().FileRefPrefix; p != "" && strings.HasPrefix(ref, p) {
			return g, true
		}
	}
	return nil, false
}

// Providers are the names served, sorted.
func (r *Registry) Providers() []string {
	out := make([]string, 0, len(r.m))
	for p := range r.m {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Inbound is a stored webhook in relay's terms.
type Inbound struct {
	// ChannelUpdates are channels' new states.
	ChannelUpdates []ChannelUpdate
	Messages       []Message
	Statuses       []Status
	// TemplateStatuses are templates whose moderation status changed.
	TemplateStatuses []TemplateStatus
	// UnknownKeys are parts of the body the adapter does not know (logged).
	UnknownKeys []string
	// Ignored says why the body carries nothing to file (an update kind
	// relay does not serve, a group chat), for the log; "" otherwise.
	Ignored string
}

// ChannelUpdate is a channel's state as the gateway announced it.
type ChannelUpdate struct {
	ChannelExt string
	State      string // as Channel.State
	QR         string
	At         time.Time // zero when the gateway gave none
}

// Message is a message from a gateway, in relay24's terms: a client's, or
// the echo of one sent from elsewhere (Echo).
type Message struct {
	ProviderID  string
	ChannelExt  string
	ChatType    string
	ChatID      string
	At          time.Time
	Echo        bool
	Kind        string
	Text        string
	Attachments []Attachment
	Client      store.ClientInfo
	AuthorID    int64
	AuthorName  string
	Status      string
	Error       string // Failure of a refused echo ("" when none)
	Edited      bool
	Deleted     bool
}

// Status is a delivery status of a sent message.
type Status struct {
	ProviderID string
	Status     string // lower-case
	Error      string // Failure, "" when none
	At         time.Time
}

// Attachment is a file of a message.
type Attachment struct {
	// URL is where the file is: "file:<id>" in relay24's own storage (an
	// upload, or a client's file once copied), a reference only its gateway
	// opens (Traits.FileRefPrefix, "tg-file:<id>" for a bot's file), else
	// the gateway's public link.
	URL  string `json:"url"`
	Type string `json:"type"`
	Name string `json:"name"`
	// Source is the gateway's link a copied file came from (for support).
	Source string `json:"source,omitempty"`
	// Unavailable: the last download of the gateway's file failed (Reason
	// says why); a copy may still follow.
	Unavailable bool   `json:"unavailable,omitempty"`
	Reason      string `json:"reason,omitempty"`
}

// TransportTitle names a messenger (a chat type) to a person.
func TransportTitle(chatType string) string {
	switch chatType {
	case "whatsapp":
		return "WhatsApp"
	case "instagram":
		return "Instagram"
	case "telegram":
		return "Telegram"
	case "vk":
		return "VK"
	case "viber":
		return "Viber"
	case "avito":
		return "Avito"
	}
	return chatType
}
