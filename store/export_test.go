package store

// SetRareWords lets a test cross the line between rare and common words
// with a few messages; it returns the undo.
func SetRareWords(n int) func() {
	old := rareWords
	rareWords = n
	return func() { rareWords = old }
}
