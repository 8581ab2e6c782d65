package jsontext

// Kind is the JSON type of a value, told by its first byte.
type Kind uint8

// The kinds. Invalid is the kind of a token that starts no JSON value.
const (
	Invalid Kind = iota
	Null
	False
	True
	Number
	String
	Array
	Object
)

var kindNames = [...]string{
	Invalid: "invalid",
	Null:    "null",
	False:   "false",
	True:    "true",
	Number:  "number",
	String:  "string",
	Array:   "array",
	Object:  "object",
}

// String returns the kind's name: "null", "false", "true", "number",
// "string", "array", "object" or "invalid".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "invalid"
}

// KindOf returns the kind of the value tok starts with, from its first byte
// alone: it does not validate tok. It returns Invalid for an empty tok or a
// byte that starts no JSON value (white space included).
func KindOf(tok []byte) Kind {
	if len(tok) == 0 {
		return Invalid
	}
	switch c := tok[0]; {
	case c == '"':
		return String
	case c == '{':
		return Object
	case c == '[':
		return Array
	case c == 't':
		return True
	case c == 'f':
		return False
	case c == 'n':
		return Null
	case c == '-' || c >= '0' && c <= '9':
		return Number
	}
	return Invalid
}
