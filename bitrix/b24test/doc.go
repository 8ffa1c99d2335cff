// Package b24test is an in-process emulator of a Bitrix24 portal and of the
// oauth.bitrix.info authorization server, for tests and for the demo mode.
//
// An OAuth stands in for oauth.bitrix.info (token endpoint, emulated clock,
// token store); each Portal created from it is a separate HTTP server with its
// own host:port, users, CRM data, placement and event bindings. The portal
// speaks the REST protocol over real HTTP (/rest/{method}[.json], GET or POST,
// query / form / JSON parameters) and refuses what the real portal refuses,
// with the same error envelope and HTTP status. It also acts as the portal
// towards the application: it POSTs the installer page, app and placement
// opens, and events to the application's handlers.
//
// The emulator is strict on purpose: every assumption that could not be
// checked against the Bitrix24 documentation or source is listed in
// ASSUMPTIONS.md next to this file.
package b24test
