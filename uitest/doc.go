// Package uitest drives relay24's chat pages in a real headless Chromium
// (chromedp) against a relay24 booted for real: PostgreSQL, the emulated
// Bitrix24 portal (bitrix/b24test) and the emulated Wazzup (wazzup/wztest).
//
// The browser is /usr/bin/chromium (scripts/chromium installs it), or
// RELAY24_CHROMIUM. Without it the tests skip, unless CI is set: then a
// missing browser fails them. Screenshots of every screen go to
// artifacts/screens/ at the repository root.
package uitest
