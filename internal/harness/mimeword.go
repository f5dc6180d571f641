package harness

import "mime"

// mimeWordDecoder decodes RFC 2047 encoded words in headers, leaving text
// it cannot decode as it is.
type mimeWordDecoder struct{ d mime.WordDecoder }

func (m *mimeWordDecoder) decode(s string) string {
	out, err := m.d.DecodeHeader(s)
	if err != nil {
		return s
	}
	return out
}
