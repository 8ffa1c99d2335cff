package session

import (
	"fmt"
	"strconv"
	"time"

	"github.com/relay24/relay24/secret"
)

// LinkTTL is the shortest life of a signed attachment link. A chat page
// refetches history when it opens a dialog, so its links renew; a link
// copied out of the page stops working soon after.
const LinkTTL = time.Hour

// linkStep rounds expiries up: links issued within one step are the same
// URL, so the browser's cache serves a refetched history's images.
const linkStep = 10 * time.Minute

const linkPurpose = "attachment link v1"

// AttachmentLink signs attachment n of a portal's message: it answers the
// link's exp (Unix seconds) and sig query parameters. The link needs no
// session, so <img src> works inside the portal's iframe, where there is no
// cookie and no header can be attached.
func (s *Signer) AttachmentLink(portalID, messageID int64, n int) (exp, sig string) {
	e := s.linkTime().Add(LinkTTL).Truncate(linkStep).Add(linkStep).Unix()
	exp = strconv.FormatInt(e, 10)
	return exp, s.keys.MAC(linkPurpose, linkPayload(portalID, messageID, n, e))
}

// CheckAttachmentLink checks a link's parameters against the message it
// names: secret.ErrInvalid for any mismatch (another portal, message or
// attachment, a missing or tampered signature), ErrExpired for a genuine
// link past its expiry.
func (s *Signer) CheckAttachmentLink(portalID, messageID int64, n int, exp, sig string) error {
	e, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || sig == "" {
		return fmt.Errorf("attachment link: %w", secret.ErrInvalid)
	}
	if !s.keys.CheckMAC(linkPurpose, linkPayload(portalID, messageID, n, e), sig) {
		return fmt.Errorf("attachment link: %w", secret.ErrInvalid)
	}
	if !s.linkTime().Before(time.Unix(e, 0)) {
		return ErrExpired
	}
	return nil
}

func linkPayload(portalID, messageID int64, n int, exp int64) []byte {
	return fmt.Appendf(nil, "%d.%d.%d.%d", portalID, messageID, n, exp)
}

// FileLinkTTL is the life of a public link to an uploaded file: long enough
// for a gateway that fetches it at once (Wazzup), short enough that a link
// seen in a log or a proxy is soon worthless.
const FileLinkTTL = 5 * time.Minute

const fileLinkPurpose = "file link v1"

// FileLink signs a public link to a portal's uploaded file: the link's exp
// (Unix seconds) and sig. It needs no session (a gateway fetches it).
func (s *Signer) FileLink(portalID, fileID int64) (exp, sig string) {
	e := s.now().Add(FileLinkTTL).Unix()
	exp = strconv.FormatInt(e, 10)
	return exp, s.keys.MAC(fileLinkPurpose, fileLinkPayload(portalID, fileID, e))
}

// CheckFileLink checks a public file link: secret.ErrInvalid for any
// mismatch, ErrExpired for a genuine link past its expiry.
func (s *Signer) CheckFileLink(portalID, fileID int64, exp, sig string) error {
	e, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || sig == "" {
		return fmt.Errorf("file link: %w", secret.ErrInvalid)
	}
	if !s.keys.CheckMAC(fileLinkPurpose, fileLinkPayload(portalID, fileID, e), sig) {
		return fmt.Errorf("file link: %w", secret.ErrInvalid)
	}
	if !s.now().Before(time.Unix(e, 0)) {
		return ErrExpired
	}
	return nil
}

func fileLinkPayload(portalID, fileID int64, exp int64) []byte {
	return fmt.Appendf(nil, "%d.%d.%d", portalID, fileID, exp)
}

const previewImageLinkPurpose = "link preview image v1"

// PreviewImageLink signs the link through which a portal's chat shows a
// link preview's picture (relay24 fetches it; the browser never asks the
// third party): exp (Unix seconds) and sig, over the portal and the
// picture's URL. Only pictures relay24 itself found on a page get a link,
// so the proxy fetches nothing a user merely names.
func (s *Signer) PreviewImageLink(portalID int64, imageURL string) (exp, sig string) {
	e := s.linkTime().Add(LinkTTL).Truncate(linkStep).Add(linkStep).Unix()
	exp = strconv.FormatInt(e, 10)
	return exp, s.keys.MAC(previewImageLinkPurpose, previewImagePayload(portalID, imageURL, e))
}

// CheckPreviewImageLink checks a preview picture's link: secret.ErrInvalid
// for any mismatch, ErrExpired for a genuine link past its expiry.
func (s *Signer) CheckPreviewImageLink(portalID int64, imageURL, exp, sig string) error {
	e, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || sig == "" {
		return fmt.Errorf("preview image link: %w", secret.ErrInvalid)
	}
	if !s.keys.CheckMAC(previewImageLinkPurpose, previewImagePayload(portalID, imageURL, e), sig) {
		return fmt.Errorf("preview image link: %w", secret.ErrInvalid)
	}
	if !s.linkTime().Before(time.Unix(e, 0)) {
		return ErrExpired
	}
	return nil
}

func previewImagePayload(portalID int64, imageURL string, exp int64) []byte {
	return fmt.Appendf(nil, "%d.%d.%s", portalID, exp, imageURL)
}
