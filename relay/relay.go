// Package relay is the heart of relay24: messages between the messaging
// channels (Wazzup's WhatsApp/Instagram/…, Telegram bots) and the CRM. A
// webhook is stored durably and acknowledged at once; workers then file each
// message exactly once into its dialog, find or create the client in the CRM,
// write the timeline and notify the responsible person. A reply is stored with
// its send job in one transaction and leaves through the same channel once.
package relay

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/relay24/relay24/access"
	"github.com/relay24/relay24/crmsync"
	"github.com/relay24/relay24/filestore"
	"github.com/relay24/relay24/gateway"
	"github.com/relay24/relay24/jobs"
	"github.com/relay24/relay24/portal"
	"github.com/relay24/relay24/secret"
	"github.com/relay24/relay24/session"
	"github.com/relay24/relay24/store"
)

// FilingKinds file stored webhooks: database work only, milliseconds each.
// They get workers of their own, never stuck behind the portal's rate limit
// or a slow gateway.
var FilingKinds = []string{JobWazzupWebhook, JobTelegramWebhook}

// SendKinds talk to the gateways; their own workers keep a slow gateway from
// delaying the filing of incoming messages.
var SendKinds = []string{JobSend}

// MediaKinds download clients' files from the gateways (up to a minute
// each): workers of their own, so that a slow download delays no reply.
// Fetching a gateway's templates talks to the gateway too.
var MediaKinds = []string{JobMediaCopy, JobTemplates}

// Job kinds.
const (
	JobWazzupWebhook   = "inbound.wazzup"
	JobTelegramWebhook = "inbound.telegram"
	JobResolveClient   = "dialog.client"
	JobTimeline        = "timeline.message"
	JobNotify          = "notify.dialog"
	JobSend            = "send.message"
)

// Options configure the Service.
type Options struct {
	Store   *store.Store
	Portals *portal.Service
	Sync    *crmsync.Syncer
	Access  *access.Rules
	Jobs    *jobs.Queue
	Keys    *secret.Keys
	// Files holds uploaded files (replies with a file); Links signs the
	// short-lived public links Wazzup fetches them by.
	Files          filestore.Storage
	Links          *session.Signer
	Log            *slog.Logger
	PublicURL      string
	WazzupAPIURL   string
	TelegramAPIURL string
	// HTTP is the client for the gateways (its own timeouts).
	HTTP *http.Client
	Now  func() time.Time
	// NotifyDelay gathers a burst of client messages into one notification
	// (default 3s).
	NotifyDelay time.Duration
}

// Service relays messages.
type Service struct {
	o      Options
	intake *jobs.Intake
	// adapters are the gateways relay speaks to, by provider name: all
	// that depends on the gateway is asked of them.
	adapters *gateway.Registry
	gateways gatewayCache // by "provider:webhook key digest", for the intake
	// gatewaysByID serves the filing workers (one look-up per stored webhook).
	gatewaysByID gatewayCache // by gateway id
	channels     sync.Map     // "gateway:external id" → *store.Channel
	cards        sync.Map     // "portal:entity:id" → when the card was last read from the portal
	// mediaHTTP downloads clients' files by the links their messages
	// carry (newMediaClient: public addresses only).
	mediaHTTP *http.Client
	hooks     Hooks
}

// cardTTL is how long a CRM card read for an individual chat is trusted
// before the portal is asked again (events keep it fresher in between).
const cardTTL = 30 * time.Second

// gatewayCache spares the webhook path a query per webhook; a gateway
// disconnected elsewhere or re-keyed stops being served within gatewayTTL
// (Disconnect and an uninstall here forget it at once).
type gatewayCache struct {
	m sync.Map
	// mu orders puts against forgets, and epoch counts the forgets: a
	// look-up that read the row before a forget must not put back what the
	// forget removed (it may hold the gateway as it was before the change).
	mu    sync.Mutex
	epoch uint64
}

type cachedGateway struct {
	g  *store.Gateway
	at time.Time
}

func (c *gatewayCache) get(key any, now time.Time) (*store.Gateway, bool) {
	if v, ok := c.m.Load(key); ok {
		if e := v.(cachedGateway); now.Sub(e.at) < gatewayTTL {
			return e.g, true
		}
	}
	return nil, false
}

// mark is taken before reading a gateway from the database, for put.
func (c *gatewayCache) mark() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.epoch
}

// put caches g unless a forget happened since mark.
func (c *gatewayCache) put(key any, g *store.Gateway, now time.Time, mark uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch == mark {
		c.m.Store(key, cachedGateway{g: g, at: now})
	}
}

// forget drops every entry of a gateway.
func (c *gatewayCache) forget(gatewayID int64) {
	c.forgetIf(func(g *store.Gateway) bool { return g.ID == gatewayID })
}

// forgetPortal drops every entry of a portal's gateways.
func (c *gatewayCache) forgetPortal(portalID int64) {
	c.forgetIf(func(g *store.Gateway) bool { return g.PortalID == portalID })
}

func (c *gatewayCache) forgetIf(match func(*store.Gateway) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	c.m.Range(func(k, v any) bool {
		if match(v.(cachedGateway).g) {
			c.m.Delete(k)
		}
		return true
	})
}

// ForgetPortal drops what is cached of a portal, once it was uninstalled:
// its webhooks are refused from the next one on, not after gatewayTTL.
func (s *Service) ForgetPortal(portalID int64) {
	s.gateways.forgetPortal(portalID)
	s.gatewaysByID.forgetPortal(portalID)
	s.channels.Range(func(k, v any) bool {
		if v.(*store.Channel).PortalID == portalID {
			s.channels.Delete(k)
		}
		return true
	})
	prefix := itoa(portalID) + ":"
	s.cards.Range(func(k, _ any) bool {
		if ks, ok := k.(string); ok && strings.HasPrefix(ks, prefix) {
			s.cards.Delete(k)
		}
		return true
	})
}

const gatewayTTL = 10 * time.Second

// Start begins the webhook intake (group-committing writers).
func (s *Service) Start(ctx context.Context, writers int) {
	s.intake = s.o.Jobs.NewIntake(ctx, writers)
}

// New makes the service.
func New(o Options) *Service {
	if o.HTTP == nil {
		o.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.NotifyDelay == 0 {
		o.NotifyDelay = 3 * time.Second
	}
	s := &Service{o: o, mediaHTTP: newMediaClient(hostPort(o.WazzupAPIURL))}
	s.adapters = gateway.NewRegistry(
		&gateway.Wazzup{APIURL: o.WazzupAPIURL, HTTP: o.HTTP, AccountOf: func(apiKey string) string {
			return hex.EncodeToString(o.Keys.Hash("wazzup_account", apiKey)[:8])
		}},
		&gateway.Telegram{APIURL: o.TelegramAPIURL, HTTP: o.HTTP},
	)
	return s
}

// Register installs the job handlers. Sending has a short lease: a send cut
// off by a crash is retried while Wazzup still recognises its crmMessageId.
func (s *Service) Register(q *jobs.Queue) {
	// Filing a webhook takes milliseconds: a worker that died holding one
	// must not delay it for minutes.
	q.HandleWithLease(JobWazzupWebhook, s.webhookJob, 15*time.Second)
	q.HandleWithLease(JobTelegramWebhook, s.webhookJob, 15*time.Second)
	q.Handle(JobResolveClient, s.resolveClientJob)
	q.Handle(JobTimeline, s.timelineJob)
	q.Handle(JobNotify, s.notifyJob)
	q.Handle(JobWazzupCRM, s.crmPushJob)
	q.Handle(JobEscalate, s.escalateJob)
	q.Handle(JobAssign, s.assignJob)
	q.HandleWithLease(JobSend, s.sendJob, sendLease)
	q.HandleWithLease(JobMediaCopy, s.mediaCopyJob, 5*time.Minute)
	q.Handle(JobTemplates, s.templatesJob)
	// A portal's CRM work that is due at once shares its requests: a
	// burst's look-ups, creations, timeline entries and notifications go
	// out in batches of up to 50 commands (docs/DESIGN.md).
	q.ClaimTogether(JobResolveClient, JobTimeline, JobNotify, JobEscalate, JobAssign)
}

// randomKey is an unguessable URL-safe secret.
func randomKey(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func credentialsContext(gatewayID int64) string { return "gateway:" + itoa(gatewayID) + ":credentials" }
func secretContext(gatewayID int64) string      { return "gateway:" + itoa(gatewayID) + ":secret" }

func (s *Service) webhookKeyHash(key string) []byte { return s.o.Keys.Hash("webhook_key", key) }

// SetNotifyDelay changes how long a burst is gathered before notifying (tests).
func (s *Service) SetNotifyDelay(d time.Duration) { s.o.NotifyDelay = d }

// SetClock replaces the service's clock (tests of delays).
func (s *Service) SetClock(now func() time.Time) { s.o.Now = now }
