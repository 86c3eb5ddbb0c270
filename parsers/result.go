package parsers

import (
	"errors"

	"github.com/cyberalarm/cyberalarm/detect"
)

// AppendResult appends the per-line JSON value for one parse result, as
// `parse --per-line` writes it: the event, null for a line that is not an
// event, or {"error":"..."}.
func AppendResult(dst []byte, ev *detect.Event, err error) []byte {
	switch {
	case err == nil:
		return ev.AppendJSON(dst)
	case errors.Is(err, detect.ErrNotEvent):
		return append(dst, "null"...)
	default:
		dst = append(dst, `{"error":`...)
		dst = detect.AppendJSONString(dst, err.Error())
		return append(dst, '}')
	}
}
