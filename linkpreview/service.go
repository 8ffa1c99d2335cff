package linkpreview

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/relay24/relay24/store"
)

// How long a cached answer is used: a page's card changes seldom; a failure
// may be a page that was down for a moment.
const (
	PreviewTTL = 24 * time.Hour
	FailureTTL = time.Hour
)

// Cache keeps previews (store.Store).
type Cache interface {
	LinkPreview(ctx context.Context, url string) (*store.LinkPreview, error)
	SaveLinkPreview(ctx context.Context, url string, preview json.RawMessage, failure string, ttl time.Duration) error
}

// ErrRateLimited is a caller over his share of fetches.
var ErrRateLimited = errors.New("link preview: too many fetches")

// Service answers previews from the cache, fetching what it lacks: once for
// concurrent requests of one URL, and within each caller's and portal's
// share of fetches.
//
// Why a share: the endpoint fetches URLs a user names, so without one it
// would be an open proxy and scanner. What it fetches is already bounded
// (public addresses, default ports, GET, no cookies, 3 s, 512 KB, and only
// cleaned head text comes back), and the share bounds how many: a user may
// make UserBurst fetches at once and one every UserEvery after that, a
// portal PortalBurst and one every PortalEvery. Cached answers cost
// nothing, so a chat full of links seen before is never limited.
type Service struct {
	Fetcher *Fetcher
	Cache   Cache
	Log     *slog.Logger

	group  singleflight.Group
	users  *limiter
	portal *limiter
	images *limiter
}

// Shares of fetches (cache misses).
const (
	UserBurst   = 20
	UserEvery   = 3 * time.Second
	PortalBurst = 60
	PortalEvery = time.Second
	// Pictures are asked for by every browser that shows a card (each
	// caches it for a while), so a portal's share of them is larger.
	ImageBurst = 120
	ImageEvery = 250 * time.Millisecond
)

// NewService is a Service over a fetcher and a cache.
func NewService(f *Fetcher, c Cache, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{Fetcher: f, Cache: c, Log: log,
		users: newLimiter(UserBurst, UserEvery), portal: newLimiter(PortalBurst, PortalEvery),
		images: newLimiter(ImageBurst, ImageEvery)}
}

// Get is raw's preview for a user of a portal. An *Error says why there is
// none (KindInvalidURL and KindPrivate are the caller's; the others are the
// page's); ErrRateLimited that the caller must wait.
func (s *Service) Get(ctx context.Context, portalID, userID int64, raw string) (*Preview, error) {
	u, err := s.Fetcher.Check(raw)
	if err != nil {
		return nil, err
	}
	key := u.String()
	if c, err := s.Cache.LinkPreview(ctx, key); err != nil {
		return nil, err
	} else if c != nil {
		return cached(c)
	}
	now := time.Now()
	if !s.users.allow(strconv.FormatInt(portalID, 10)+"/"+strconv.FormatInt(userID, 10), now) ||
		!s.portal.allow(strconv.FormatInt(portalID, 10), now) {
		return nil, ErrRateLimited
	}
	ch := s.group.DoChan(key, func() (any, error) {
		// The fetch is shared: one caller going away does not end it for
		// the others (it has its own time limit).
		return s.fetch(context.WithoutCancel(ctx), key)
	})
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*Preview), nil
	}
}

// fetch fetches key and caches the answer, a failure of the page's too.
func (s *Service) fetch(ctx context.Context, key string) (*Preview, error) {
	p, ferr := s.Fetcher.Fetch(ctx, key)
	var err error
	if ferr == nil {
		b, merr := json.Marshal(p)
		if merr != nil {
			return nil, merr
		}
		err = s.Cache.SaveLinkPreview(ctx, key, b, "", PreviewTTL)
	} else {
		err = s.Cache.SaveLinkPreview(ctx, key, nil, string(KindOf(ferr)), FailureTTL)
	}
	if err != nil {
		s.Log.WarnContext(ctx, "caching a link preview", slog.String("error", err.Error()))
	}
	if ferr != nil {
		s.Log.DebugContext(ctx, "no link preview", slog.String("error", ferr.Error()))
		return nil, ferr
	}
	return p, nil
}

func cached(c *store.LinkPreview) (*Preview, error) {
	if c.Failure.Valid {
		return nil, &Error{Kind: Kind(c.Failure.String)}
	}
	var p Preview
	if err := json.Unmarshal(c.Preview, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// limiter is a token bucket per key: burst tokens, one more every every.
type limiter struct {
	burst float64
	every time.Duration

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// maxBuckets bounds the limiter's memory; full buckets are dropped first.
const maxBuckets = 10000

func newLimiter(burst int, every time.Duration) *limiter {
	return &limiter{burst: float64(burst), every: every, buckets: map[string]*bucket{}}
}

func (l *limiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxBuckets {
			l.sweep(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	b.tokens = min(l.burst, b.tokens+float64(now.Sub(b.at))/float64(l.every))
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// sweep drops the buckets that have refilled: forgetting them changes
// nothing.
func (l *limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+float64(now.Sub(b.at))/float64(l.every) >= l.burst {
			delete(l.buckets, k)
		}
	}
}

// image is a fetched picture.
type image struct {
	bytes []byte
	typ   string
}

// Image is a preview's picture, fetched once for concurrent requests and
// within the portal's share of fetches (the caller checked that relay24
// found this URL on a page: a signed link).
func (s *Service) Image(ctx context.Context, portalID int64, raw string) ([]byte, string, error) {
	if !s.images.allow(strconv.FormatInt(portalID, 10), time.Now()) {
		return nil, "", ErrRateLimited
	}
	ch := s.group.DoChan("image "+raw, func() (any, error) {
		b, t, err := s.Fetcher.Image(context.WithoutCancel(ctx), raw)
		if err != nil {
			return nil, err
		}
		return image{b, t}, nil
	})
	select {
	case <-ctx.Done():
		return nil, "", ctx.Err()
	case r := <-ch:
		if r.Err != nil {
			return nil, "", r.Err
		}
		im := r.Val.(image)
		return im.bytes, im.typ, nil
	}
}
