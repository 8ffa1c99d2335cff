package relay

import (
	"database/sql"
	"strconv"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func nullInt(n int64) sql.NullInt64 { return sql.NullInt64{Int64: n, Valid: n > 0} }
