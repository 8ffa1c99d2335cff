// Package telegram speaks the part of the Telegram Bot API relay24 needs: a
// client for getMe, setWebhook/deleteWebhook/getWebhookInfo, sendMessage,
// the file uploads (sendPhoto/Document/Video/Audio/Voice, limits checked
// before the upload) and getFile, typed API errors, and a parser for the updates Telegram POSTs to
// the bot's webhook.
//
// The client never retries (the caller's job queue does) but classifies
// errors with Temporary, and it keeps the bot token out of every error text.
// The subpackage tgtest is an in-process emulator of the Bot API server.
package telegram
