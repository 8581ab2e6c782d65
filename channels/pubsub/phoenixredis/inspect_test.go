package phoenixredis

import (
	"cmp"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/fawkes-rt/fawkes/channels/pubsub/phoenixredis/etf"
)

// inspect prints a decoded term as Elixir 1.14's inspect/1 does, for the
// kinds of term in the captured payloads, so that the golden tests can
// compare with the "decoded" column the Elixir nodes printed.
func inspect(v any) string {
	var sb strings.Builder
	inspectTo(&sb, v)
	return sb.String()
}

func inspectTo(sb *strings.Builder, v any) {
	switch x := v.(type) {
	case int64:
		sb.WriteString(strconv.FormatInt(x, 10))
	case *big.Int:
		sb.WriteString(x.String())
	case float64:
		sb.Write(etf.AppendErlangFloat(nil, x))
	case etf.Atom:
		sb.WriteString(inspectAtom(string(x)))
	case string:
		if utf8.ValidString(x) && printable(x) {
			sb.WriteString(strconv.Quote(x)) // same escapes for what printable lets through
			return
		}
		sb.WriteString("<<")
		for i := range len(x) {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(strconv.Itoa(int(x[i])))
		}
		sb.WriteString(">>")
	case etf.Tuple:
		sb.WriteByte('{')
		for i, el := range x {
			if i > 0 {
				sb.WriteString(", ")
			}
			inspectTo(sb, el)
		}
		sb.WriteByte('}')
	case etf.List:
		sb.WriteByte('[')
		keyword := len(x) > 0
		for _, el := range x {
			t, ok := el.(etf.Tuple)
			if !ok || len(t) != 2 {
				keyword = false
				break
			}
			if _, ok := t[0].(etf.Atom); !ok {
				keyword = false
				break
			}
		}
		for i, el := range x {
			if i > 0 {
				sb.WriteString(", ")
			}
			if keyword {
				t := el.(etf.Tuple)
				sb.WriteString(keywordKey(string(t[0].(etf.Atom))))
				inspectTo(sb, t[1])
				continue
			}
			inspectTo(sb, el)
		}
		sb.WriteByte(']')
	case etf.Map:
		pairs := slices.Clone(x)
		slices.SortFunc(pairs, func(a, b etf.Pair) int { return termCompare(a.Key, b.Key) })
		if mod, ok := x.Get(etf.Atom("__struct__")); ok && mod == etf.Atom("Elixir.MapSet") {
			set, _ := x.Get(etf.Atom("map"))
			elems := etf.List{}
			if m, ok := set.(etf.Map); ok {
				m = slices.Clone(m)
				slices.SortFunc(m, func(a, b etf.Pair) int { return termCompare(a.Key, b.Key) })
				for _, p := range m {
					elems = append(elems, p.Key)
				}
			}
			sb.WriteString("MapSet.new(")
			inspectTo(sb, elems)
			sb.WriteByte(')')
			return
		}
		allAtoms := true
		for _, p := range pairs {
			if _, ok := p.Key.(etf.Atom); !ok {
				allAtoms = false
			}
		}
		sb.WriteString("%{")
		for i, p := range pairs {
			if i > 0 {
				sb.WriteString(", ")
			}
			if allAtoms {
				sb.WriteString(keywordKey(string(p.Key.(etf.Atom))))
			} else {
				inspectTo(sb, p.Key)
				sb.WriteString(" => ")
			}
			inspectTo(sb, p.Value)
		}
		sb.WriteByte('}')
	case etf.Pid:
		fmt.Fprintf(sb, "#PID<0.%d.%d>", x.ID, x.Serial)
	case etf.Ref:
		sb.WriteString("#Reference<0")
		for i := len(x.ID) - 1; i >= 0; i-- {
			fmt.Fprintf(sb, ".%d", x.ID[i])
		}
		sb.WriteByte('>')
	default:
		fmt.Fprintf(sb, "#UNSUPPORTED<%T>", v)
	}
}

func printable(s string) bool {
	for _, r := range s {
		if !unicode.IsPrint(r) && r != '\n' && r != '\t' {
			return false
		}
	}
	return true
}

func inspectAtom(a string) string {
	switch {
	case a == "nil" || a == "true" || a == "false":
		return a
	case strings.HasPrefix(a, "Elixir."):
		return strings.TrimPrefix(a, "Elixir.")
	case identifier(a):
		return ":" + a
	}
	return ":" + strconv.Quote(a)
}

func keywordKey(a string) string {
	if identifier(a) {
		return a + ": "
	}
	return strconv.Quote(a) + ": "
}

func identifier(a string) bool {
	if a == "" || !(a[0] == '_' || a[0] >= 'a' && a[0] <= 'z') {
		return false
	}
	for i := range len(a) {
		c := a[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return i == len(a)-1 && (c == '?' || c == '!')
		}
	}
	return true
}

// termCompare orders terms as Erlang does: number < atom < reference <
// pid < tuple < map < [] < list < binary.
func termCompare(a, b any) int {
	if c := cmp.Compare(termRank(a), termRank(b)); c != 0 {
		return c
	}
	switch x := a.(type) {
	case int64, *big.Int, float64:
		return toBig(x).Cmp(toBig(b))
	case etf.Atom:
		return strings.Compare(string(x), string(b.(etf.Atom)))
	case string:
		return strings.Compare(x, b.(string))
	case etf.Tuple:
		y := b.(etf.Tuple)
		if c := cmp.Compare(len(x), len(y)); c != 0 {
			return c
		}
		for i := range x {
			if c := termCompare(x[i], y[i]); c != 0 {
				return c
			}
		}
	case etf.List:
		y := b.(etf.List)
		for i := range min(len(x), len(y)) {
			if c := termCompare(x[i], y[i]); c != 0 {
				return c
			}
		}
		return cmp.Compare(len(x), len(y))
	case etf.Map:
		return cmp.Compare(len(x), len(b.(etf.Map)))
	case etf.Pid:
		return cmp.Compare(x.ID, b.(etf.Pid).ID)
	}
	return 0
}

func termRank(v any) int {
	switch x := v.(type) {
	case int64, *big.Int, float64:
		return 0
	case etf.Atom:
		return 1
	case etf.Ref:
		return 2
	case etf.Pid:
		return 5
	case etf.Tuple:
		return 6
	case etf.Map:
		return 7
	case etf.List:
		if len(x) == 0 {
			return 8
		}
		return 9
	case string:
		return 10
	}
	return 11
}

func toBig(v any) *big.Float {
	switch x := v.(type) {
	case int64:
		return new(big.Float).SetInt64(x)
	case *big.Int:
		return new(big.Float).SetInt(x)
	case float64:
		return big.NewFloat(x)
	}
	return new(big.Float)
}
