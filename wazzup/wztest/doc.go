// Package wztest is an in-process emulator of the Wazzup public API v3, for
// relay24's tests and its demo mode.
//
// A Server is a real HTTP server on 127.0.0.1 (its URL is what WAZZUP_API_URL
// points at). It holds accounts, each reached with one or more API keys, with
// channels, webhook settings, sent messages and the users, contacts, deals and
// pipelines uploaded to it. It refuses what the real service refuses, with
// the documented status and error envelope, and it plays Wazzup's side
// towards relay24: it POSTs the {"test":true} probe when webhooks are set,
// client messages, echoes of every send followed by statuses, channel state
// changes, template status changes and creation requests to the registered
// webhooksUri. It serves the account's WABA templates, checks template sends
// against them, and plays the WABA 24-hour and Instagram 7-day windows by
// its own clock (SetClock): a plain message outside one is accepted, then
// fails in a statuses webhook.
//
// Where the documentation is silent or self-contradictory the emulator picks
// the strict reading; ASSUMPTIONS.md next to this file lists every choice.
package wztest
