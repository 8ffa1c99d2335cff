package store

import (
	"context"
	"time"
)

// SetRareWords lets a test cross the line between rare and common words
// with a few messages; it returns the undo.
func SetRareWords(n int) func() {
	old := rareWords
	rareWords = n
	return func() { rareWords = old }
}

// IndexWord is the choice of the name word read from the trigram index.
var IndexWord = indexWord

// NameCommonness reads the dialogs' name statistics anew (a test has just
// run ANALYZE) and estimates each word's share of dialogs.
func (s *Store) NameCommonness(ctx context.Context, words []string) ([]float64, error) {
	s.stats.mu.Lock()
	s.stats.read = time.Time{}
	s.stats.mu.Unlock()
	return s.nameCommonness(ctx, words)
}
