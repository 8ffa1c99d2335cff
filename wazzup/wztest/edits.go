package wztest

import (
	"context"
	"errors"
	"fmt"
)

// ErrUnknownMessage is returned for a messageId the account does not have.
var ErrUnknownMessage = errors.New("wztest: unknown message")

// ClientEdits makes the client edit a message he wrote (ClientWrites) and
// POSTs what Wazzup sends for it: the message again, with its messageId,
// the new text, "isEdited": true and "oldInfo": {"oldText"} (channels.md
// §1.8: edits and deletions arrive as messages items). The item is the
// incoming one otherwise (isEcho false, status "inbound", the contact),
// dated now: when Wazzup dates an edit is not documented.
func (a *Account) ClientEdits(ctx context.Context, messageID, text string) error {
	return a.clientChanges(ctx, messageID, text, false)
}

// ClientDeletes makes the client delete a message he wrote: the message
// again with "isDeleted": true and "oldInfo": {"oldText"}. Whether Wazzup
// still sends the text of a deleted message is not documented; the
// emulator sends it (as it does for a deleted echo), so a receiver that
// shows it is caught.
func (a *Account) ClientDeletes(ctx context.Context, messageID string) error {
	return a.clientChanges(ctx, messageID, "", true)
}

func (a *Account) clientChanges(ctx context.Context, messageID, text string, deleted bool) error {
	s := a.s
	s.mu.Lock()
	m := a.messages[messageID]
	switch {
	case m == nil || m.echo:
		s.mu.Unlock()
		return fmt.Errorf("%w %s (not a client's message)", ErrUnknownMessage, messageID)
	case !deleted && text == "":
		s.mu.Unlock()
		return fmt.Errorf("wztest: an edit needs a text")
	}
	old := *m
	c := a.chatOf(chatKey{m.channelID, m.chatType, m.chatID})
	item := whMessage{
		MessageID: m.id, ChannelID: m.channelID, ChatType: m.chatType, ChatID: m.chatID,
		DateTime: iso(s.clock()), Type: m.typ, IsEcho: false, Contact: c.contact(m.chatType, m.chatID),
		Text: m.text, ContentURI: m.contentURI, Status: "inbound",
		OldInfo: &whOldInfo{OldText: old.text},
	}
	if deleted {
		item.IsDeleted = true
		delete(a.messages, messageID)
	} else {
		item.IsEdited, item.Text = true, text
		m.text = text
	}
	subscribed := a.webhookURI != "" && a.subs.MessagesAndStatuses
	s.mu.Unlock()
	if !subscribed {
		return ErrNoWebhook
	}
	_, err := a.deliver(ctx, mustJSON(whMessages{Messages: []whMessage{item}}), true)
	return err
}
