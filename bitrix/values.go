package bitrix

import (
	"fmt"
	"strconv"
	"strings"
)

// Int reads an integer the portal sends as 5, "5", "" or null (legacy crm.*
// and user.* methods send numbers as strings; empty means none: 0).
type Int int64

// UnmarshalJSON implements json.Unmarshaler.
func (n *Int) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*n = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("not an integer: %s", b)
	}
	*n = Int(v)
	return nil
}
