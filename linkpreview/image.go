package linkpreview

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// MaxImage caps a preview's picture.
const MaxImage = 1 << 20

// More kinds of failure, of a picture.
const (
	KindTooLarge Kind = "too_large" // over MaxImage
	KindNotImage Kind = "not_image" // not a PNG, JPEG, GIF or WebP by its bytes
)

// imageTypes are the pictures a card shows, as http.DetectContentType
// names them: the type comes from the bytes, never from the header.
var imageTypes = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true}

// Image fetches a preview's picture under the page's rules (netguard, the
// redirects, the time limit), at most MaxImage bytes, and answers it with
// its type sniffed from the bytes.
func (f *Fetcher) Image(ctx context.Context, raw string) ([]byte, string, error) {
	ctx, cancel := f.limit(ctx)
	defer cancel()
	_, res, err := f.get(ctx, raw, "image/webp,image/png,image/jpeg,image/gif", "picture")
	if err != nil {
		return nil, "", err
	}
	defer res.Body.Close()
	if res.ContentLength > MaxImage {
		return nil, "", &Error{Kind: KindTooLarge}
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, MaxImage+1))
	if err != nil {
		return nil, "", classify(ctx, err)
	}
	if len(b) > MaxImage {
		return nil, "", &Error{Kind: KindTooLarge}
	}
	t := http.DetectContentType(b)
	if !imageTypes[t] {
		return nil, "", &Error{Kind: KindNotImage, Err: fmt.Errorf("the picture is %s", t)}
	}
	return b, t, nil
}
