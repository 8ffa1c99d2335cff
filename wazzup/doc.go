// Package wazzup speaks the Wazzup public API v3 (https://api.wazzup24.com/v3):
// a client for the routes relay24 calls (channels, webhook settings, sending
// texts, and files by contentUri with SendFile and typed MediaError; WABA
// templates with Templates and SendTemplate and typed TemplateError;
// users/contacts/deals upserts), typed API errors, the codes of a message
// sent outside the customer-service window (IsWindowClosed; the window's
// length is gateway.Wazzup.ReplyWindow's), and a parser for the webhooks
// Wazzup POSTs to relay24.
//
// The client is deliberately thin: it never retries (the caller's job queue
// does, with crmMessageId as the idempotency key of a send) but classifies
// every failure with Temporary and IsDuplicate. Decoding is lenient where the
// documentation and live observations disagree: ids may come as strings or
// numbers, booleans as true or "true", error codes in either spelling.
//
// The subpackage wztest is an in-process emulator of the service.
package wazzup
