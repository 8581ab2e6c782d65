package protocol

// Code classifies a protocol error.
type Code uint8

// The error codes. Each has a sentinel *Error below for errors.Is.
const (
	CodeNotJSON Code = iota + 1
	CodeShape
	CodeTooFewElements
	CodeV2OnV1
	CodeMissingKey
	CodeFieldType
	CodePayloadNotObject
	CodeFieldTooLong
	CodeTruncated
	CodeUnknownKind
	CodeBinaryUnsupported
	CodeTooDeep
	CodeVersion
)

var codeText = [...]string{
	CodeNotJSON:           "not valid JSON",
	CodeShape:             "wrong message shape",
	CodeTooFewElements:    "fewer than 5 elements",
	CodeV2OnV1:            "V2 array sent to a V1 serializer",
	CodeMissingKey:        "missing key",
	CodeFieldType:         "wrong field type",
	CodePayloadNotObject:  "payload is not a JSON object",
	CodeFieldTooLong:      "binary field longer than 255 bytes",
	CodeTruncated:         "truncated binary frame",
	CodeUnknownKind:       "unknown binary message kind",
	CodeBinaryUnsupported: "binary frames are not supported by this serializer",
	CodeTooDeep:           "JSON nested too deeply",
	CodeVersion:           "unsupported serializer version",
}

// Error is the error every function of this package returns for malformed
// input. Code says what is wrong; Detail, when set, says where.
type Error struct {
	Code   Code
	Detail string
}

// Error returns "protocol: <what is wrong>[: <detail>]".
func (e *Error) Error() string {
	s := "protocol: unknown error"
	if int(e.Code) < len(codeText) && codeText[e.Code] != "" {
		s = "protocol: " + codeText[e.Code]
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Is makes errors.Is(err, ErrTruncated) and the like match any *Error with
// the same Code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Detail == ""
}

// Sentinels for errors.Is.
var (
	ErrNotJSON           = &Error{Code: CodeNotJSON}
	ErrShape             = &Error{Code: CodeShape}
	ErrTooFewElements    = &Error{Code: CodeTooFewElements}
	ErrV2OnV1            = &Error{Code: CodeV2OnV1}
	ErrMissingKey        = &Error{Code: CodeMissingKey}
	ErrFieldType         = &Error{Code: CodeFieldType}
	ErrPayloadNotObject  = &Error{Code: CodePayloadNotObject}
	ErrFieldTooLong      = &Error{Code: CodeFieldTooLong}
	ErrTruncated         = &Error{Code: CodeTruncated}
	ErrUnknownKind       = &Error{Code: CodeUnknownKind}
	ErrBinaryUnsupported = &Error{Code: CodeBinaryUnsupported}
	ErrTooDeep           = &Error{Code: CodeTooDeep}
	ErrVersion           = &Error{Code: CodeVersion}
)

func errorf(c Code, detail string) *Error { return &Error{Code: c, Detail: detail} }
