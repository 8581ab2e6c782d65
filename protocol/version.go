package protocol

import "github.com/fawkes-rt/fawkes/protocol/jsontext"

// Negotiate picks the serializer for a vsn query value the way Phoenix does:
// an empty vsn means "1.0.0"; a SemVer version matching "~> 1.0.0" gives V1
// and one matching "~> 2.0.0" gives V2 (so 2.0.5 is accepted). Anything
// else, including 2.1.0 and unparsable text, returns an error wrapping
// ErrVersion.
func Negotiate(vsn string) (Serializer, error) {
	if vsn == "" {
		return V1JSON, nil
	}
	major, minor, patch, pre, ok := parseSemver(vsn)
	if !ok {
		return nil, errorf(CodeVersion, "not a version: "+quoteShort(vsn))
	}
	// "~> X.0.0" is >= X.0.0 and < X.1.0; X.0.0-pre sorts below X.0.0.
	if minor == 0 && !(patch == 0 && pre) {
		switch major {
		case 1:
			return V1JSON, nil
		case 2:
			return V2JSON, nil
		}
	}
	return nil, errorf(CodeVersion, quoteShort(vsn))
}

// parseSemver parses MAJOR.MINOR.PATCH[-pre][+build] with numbers without
// leading zeros.
func parseSemver(s string) (major, minor, patch int, pre, ok bool) {
	var nums [3]int
	i := 0
	for k := 0; k < 3; k++ {
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if i-start > 9 {
				return 0, 0, 0, false, false
			}
			nums[k] = nums[k]*10 + int(s[i]-'0')
			i++
		}
		if i == start || (s[start] == '0' && i-start > 1) {
			return 0, 0, 0, false, false
		}
		if k < 2 {
			if i >= len(s) || s[i] != '.' {
				return 0, 0, 0, false, false
			}
			i++
		}
	}
	if i < len(s) && s[i] == '-' {
		pre = true
		i++
		if !semverIdents(s, &i) {
			return 0, 0, 0, false, false
		}
	}
	if i < len(s) && s[i] == '+' {
		i++
		if !semverIdents(s, &i) {
			return 0, 0, 0, false, false
		}
	}
	if i != len(s) {
		return 0, 0, 0, false, false
	}
	return nums[0], nums[1], nums[2], pre, true
}

// semverIdents consumes dot-separated [0-9A-Za-z-]+ identifiers.
func semverIdents(s string, i *int) bool {
	for {
		start := *i
		for *i < len(s) {
			c := s[*i]
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
				break
			}
			*i++
		}
		if *i == start {
			return false
		}
		if *i >= len(s) || s[*i] != '.' {
			return true
		}
		*i++
	}
}

func quoteShort(s string) string {
	if len(s) > 32 {
		s = s[:32] + "..."
	}
	return string(jsontext.AppendQuote(nil, s))
}
