// Package bitrix speaks the Bitrix24 REST and OAuth protocol: the REST client
// (single calls, batch, fast listing), OAuth token handling, the form encoding
// the portal uses for events and placements, and typed REST errors. Its
// subpackage b24test is an in-process portal emulator.
package bitrix
