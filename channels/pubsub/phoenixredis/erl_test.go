package phoenixredis

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/channels/pubsub/phoenixredis/etf"
)

// The tests in this file use a real Erlang runtime as the independent
// reference for the term format: Debian's erlang-base gives erl, whose
// binary_to_term/term_to_binary check both directions.

// erlBinary returns the path of erl. Without it, the test fails when
// CI=true (CI installs the Debian package erlang-base) and otherwise
// skips, saying so on stderr.
func erlBinary(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("erl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("erl is not installed; CI must install the Debian package erlang-base (.ci/run does)")
		}
		fmt.Fprintln(os.Stderr, "SKIPPED: erl not installed (apt-get install erlang-base); the Erlang interop tests did not run")
		t.Skip("SKIPPED: erl not installed")
	}
	return bin
}

// runErl evaluates script in a fresh erl with the file of cases in the
// environment variable CASES, and returns its output lines.
func runErl(t *testing.T, script, cases string) []string {
	t.Helper()
	bin := erlBinary(t)
	path := filepath.Join(t.TempDir(), "cases.erl")
	if err := os.WriteFile(path, []byte(cases), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-noshell", "-noinput", "-eval", script)
	cmd.Env = append(os.Environ(), "CASES="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("erl: %v\n%s\n%s", err, out, stderr.Bytes())
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// Erlang's binary_to_term reads what a Fawkes node publishes, as the term
// Jason would have decoded from the client's JSON; and where
// term_to_binary writes maps in key order (up to 32 keys), the very bytes
// term_to_binary would write.
func TestErlangReadsWhatFawkesSends(t *testing.T) {
	const script = `{ok, Cases} = file:consult(os:getenv("CASES")),
lists:foreach(fun({Id, Bytes, Expected, Exact}) ->
    R = try binary_to_term(Bytes) of
          T when T =:= Expected ->
            case Exact andalso term_to_binary(Expected) =/= Bytes of
              true -> "bytes_differ";
              false -> "ok"
            end;
          T -> io_lib:format("term_differs ~P", [T, 12])
        catch C:E -> io_lib:format("crash ~p:~p", [C, E])
        end,
    io:format("~b ~s~n", [Id, R])
  end, Cases),
halt().`
	r := rand.New(rand.NewPCG(18, 2026))
	var cases strings.Builder
	payloads := map[int]string{}
	for id := range 400 {
		payload := genJSON(r, 0)
		topic, event := "events:room-"+strconv.Itoa(id), "cloudevent"
		if id%7 == 0 {
			topic, event = "events:héllo", "événement"
		}
		b := pubsub.NewBroadcast(topic, event, []byte(payload))
		msg, err := AppendBroadcast(nil, "fawkes-1@host.example", b)
		if err != nil {
			t.Fatalf("%s: %v", payload, err)
		}
		v, err := decodeJSON([]byte(payload))
		if err != nil {
			t.Fatal(err)
		}
		exact := mapsUpTo32(v)
		if id%5 == 0 {
			msg, exact = etf.Compress(msg, 6), false
		}
		payloads[id] = payload
		fmt.Fprintf(&cases, "{%d, %s, {3, except, 'fawkes-1@host.example', %s, #{'__struct__' => 'Elixir.Phoenix.Socket.Broadcast', event => %s, payload => %s, topic => %s}, 'Elixir.Phoenix.Channel.Server'}, %t}.\n",
			id, erlBytes(msg), erlBytes([]byte(topic)), erlBytes([]byte(event)), erlLiteral(v), erlBytes([]byte(topic)), exact)
	}
	lines := runErl(t, script, cases.String())
	if len(lines) != len(payloads) {
		t.Fatalf("erl answered %d cases of %d: %q", len(lines), len(payloads), lines)
	}
	for _, line := range lines {
		id, verdict, _ := strings.Cut(line, " ")
		if verdict != "ok" {
			n, _ := strconv.Atoi(id)
			t.Errorf("case %s (%s): %s", id, payloads[n], verdict)
		}
	}
}

// A Fawkes node reads what term_to_binary writes, in OTP 25's default
// form, compressed, and with UTF-8 atoms (minor_version 2, OTP 26's
// default), and delivers the JSON a Phoenix node would send.
func TestFawkesReadsWhatErlangSends(t *testing.T) {
	const script = `{ok, Cases} = file:consult(os:getenv("CASES")),
lists:foreach(fun({Id, S}) ->
    {ok, Toks, _} = erl_scan:string(S),
    {ok, Exprs} = erl_parse:parse_exprs(Toks),
    {value, T, _} = erl_eval:exprs(Exprs, []),
    io:format("~b ~s ~s ~s~n", [Id, binary:encode_hex(term_to_binary(T)), binary:encode_hex(term_to_binary(T, [compressed])), binary:encode_hex(term_to_binary(T, [{minor_version, 2}]))])
  end, Cases),
halt().`
	type want struct {
		why  SkipReason
		json string // expected payload
		bin  bool   // a binary payload
	}
	wants := map[int]want{}
	var cases strings.Builder
	add := func(id int, payloadExpr string, w want) {
		expr := fmt.Sprintf(`{3, except, n1, <<"events:lobby">>, #{'__struct__' => 'Elixir.Phoenix.Socket.Broadcast', event => <<"cloudevent">>, payload => %s, topic => <<"events:lobby">>}, 'Elixir.Phoenix.Channel.Server'}.`, payloadExpr)
		fmt.Fprintf(&cases, "{%d, %s}.\n", id, strconv.Quote(expr))
		wants[id] = w
	}
	r := rand.New(rand.NewPCG(25, 2026))
	for id := range 300 {
		payload := genJSON(r, 0)
		v, err := decodeJSON([]byte(payload))
		if err != nil {
			t.Fatal(err)
		}
		add(id, erlLiteral(v), want{why: Delivered, json: payload})
	}
	// What Elixir code puts in payloads beyond what JSON decodes to.
	add(1000, `#{phx_ref => <<"GO7W">>, <<"name">> => alice, 1 => 2.5, 1.5 => nil}`, want{why: Delivered, json: `{"phx_ref":"GO7W","name":"alice","1":2.5,"1.5":null}`})
	add(1001, `#{<<"chars">> => "hi", <<"atoms">> => [true, false, nil, ok, 'Elixir.Foo']}`, want{why: Delivered, json: `{"chars":[104,105],"atoms":[true,false,null,"ok","Elixir.Foo"]}`})
	add(1002, `{binary, <<1, 2, 3, 255>>}`, want{why: Delivered, json: "\x01\x02\x03\xff", bin: true})
	add(1003, `#{<<"t">> => {1, 2}}`, want{why: SkipUnrepresentable})
	add(1004, `#{<<"p">> => self()}`, want{why: SkipUnrepresentable})
	add(1005, `#{<<"r">> => make_ref()}`, want{why: SkipUnrepresentable})
	add(1006, `#{<<"b">> => <<255, 0>>}`, want{why: SkipUnrepresentable})
	add(1007, `#{<<"d">> => #{'__struct__' => 'Elixir.Date', year => 2026}}`, want{why: SkipUnrepresentable})
	add(1008, `#{<<"i">> => [1 | 2]}`, want{why: SkipUnrepresentable})
	add(1009, `#{<<"f">> => fun() -> ok end}`, want{why: SkipUnrepresentable})
	add(1010, `#{<<"big">> => 1 bsl 9000}`, want{why: SkipUnrepresentable})
	add(1011, `maps:from_list([{integer_to_binary(I), I} || I <- lists:seq(1, 40)])`, want{why: Delivered, json: manyKeys(40)})

	lines := runErl(t, script, cases.String())
	if len(lines) != len(wants) {
		t.Fatalf("erl answered %d cases of %d", len(lines), len(wants))
	}
	c := testClassifier("fawkes-1", "events:lobby")
	for _, line := range lines {
		f := strings.Fields(line)
		id, _ := strconv.Atoi(f[0])
		w := wants[id]
		for form, h := range f[1:] {
			data, err := hex.DecodeString(h)
			if err != nil {
				t.Fatal(err)
			}
			b, why, err := c.classify(data)
			switch {
			case why != w.why:
				t.Errorf("case %d form %d: %v (%v), want %v", id, form, why, err, w.why)
			case why != Delivered:
			case w.bin != b.Binary || w.bin && string(b.Payload) != w.json || !w.bin && !jsonEqual(b.Payload, []byte(w.json)):
				t.Errorf("case %d form %d: delivered %q (binary %t)\nwant %s", id, form, b.Payload, b.Binary, w.json)
			}
		}
	}
}

func manyKeys(n int) string {
	var sb strings.Builder
	sb.WriteByte('{')
	for i := 1; i <= n; i++ {
		if i > 1 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `"%d":%d`, i, i)
	}
	return sb.String() + "}"
}

// Floats print as Erlang prints them (io_lib_format:fwrite_g, Jason's
// and Float.to_string's), over random bit patterns and decimal values.
func TestFloatsPrintAsErlangPrintsThem(t *testing.T) {
	const script = `{ok, Cases} = file:consult(os:getenv("CASES")),
lists:foreach(fun(Bits) -> <<F:64/float>> = <<Bits:64>>, io:format("~s~n", [io_lib_format:fwrite_g(F)]) end, Cases),
halt().`
	r := rand.New(rand.NewPCG(7, 2026))
	var floats []float64
	for len(floats) < 3000 {
		var f float64
		switch len(floats) % 3 {
		case 0:
			f = math.Float64frombits(r.Uint64())
		case 1:
			f = math.Round(r.NormFloat64()*1e6) / math.Pow(10, float64(r.IntN(12)))
		default:
			f = float64(r.Int64N(1<<56)) * math.Pow(10, float64(r.IntN(40)-20))
		}
		if !math.IsNaN(f) && !math.IsInf(f, 0) {
			floats = append(floats, f)
		}
	}
	var cases strings.Builder
	for _, f := range floats {
		fmt.Fprintf(&cases, "%d.\n", math.Float64bits(f))
	}
	lines := runErl(t, script, cases.String())
	if len(lines) != len(floats) {
		t.Fatalf("erl answered %d of %d", len(lines), len(floats))
	}
	bad := 0
	for i, f := range floats {
		if got := string(etf.AppendErlangFloat(nil, f)); got != lines[i] && bad < 10 {
			bad++
			t.Errorf("%b: %s, Erlang prints %s", math.Float64bits(f), got, lines[i])
		}
	}
}

// erlBytes writes b as an Erlang binary literal.
func erlBytes(b []byte) string {
	var sb strings.Builder
	sb.WriteString("<<")
	for i, c := range b {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(strconv.Itoa(int(c)))
	}
	sb.WriteString(">>")
	return sb.String()
}

// erlLiteral writes a value of decodeJSON as the Erlang literal of the
// term Jason decodes that JSON to: written here from the JSON alone, not
// by the code under test.
func erlLiteral(v any) string {
	switch x := v.(type) {
	case map[string]any:
		parts := make([]string, 0, len(x))
		for k, val := range x {
			parts = append(parts, erlBytes([]byte(k))+" => "+erlLiteral(val))
		}
		return "#{" + strings.Join(parts, ", ") + "}"
	case []any:
		parts := make([]string, len(x))
		for i, el := range x {
			parts[i] = erlLiteral(el)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case string:
		return erlBytes([]byte(x))
	case jsonInt:
		return string(x)
	case float64:
		s := strconv.FormatFloat(x, 'e', -1, 64)
		mant, exp, _ := strings.Cut(s, "e")
		if !strings.Contains(mant, ".") {
			mant += ".0"
		}
		return mant + "e" + exp
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return "nil"
	}
	panic(fmt.Sprintf("no literal for %T", v))
}

func mapsUpTo32(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		if len(x) > 32 {
			return false
		}
		for _, val := range x {
			if !mapsUpTo32(val) {
				return false
			}
		}
	case []any:
		for _, el := range x {
			if !mapsUpTo32(el) {
				return false
			}
		}
	}
	return true
}

// genJSON returns a random JSON value of the kinds clients send, with the
// edges of the term mapping: integers of every size, floats of every
// magnitude, byte lists (STRING_EXT), escapes and non-ASCII text,
// duplicate keys and maps over 32 keys.
func genJSON(r *rand.Rand, depth int) string {
	kind := r.IntN(10)
	if depth == 0 {
		kind = 0
	} else if depth > 4 {
		kind = 2 + r.IntN(8)
	}
	switch kind {
	case 0: // object
		n := r.IntN(7)
		if r.IntN(20) == 0 {
			n = 33 + r.IntN(10)
		}
		var sb strings.Builder
		sb.WriteByte('{')
		for i := range n {
			if i > 0 {
				sb.WriteByte(',')
			}
			key := genString(r)
			if i > 0 && r.IntN(10) == 0 {
				key = `"dup"`
			}
			sb.WriteString(key + ":" + genJSON(r, depth+1))
		}
		sb.WriteByte('}')
		return sb.String()
	case 1: // array
		n := r.IntN(6)
		parts := make([]string, n)
		bytesOnly := r.IntN(3) == 0
		for i := range parts {
			if bytesOnly {
				parts[i] = strconv.Itoa(r.IntN(256))
			} else {
				parts[i] = genJSON(r, depth+1)
			}
		}
		return "[" + strings.Join(parts, ",") + "]"
	case 2, 3:
		return genString(r)
	case 4:
		return []string{"0", "255", "256", "-1", "2147483647", "2147483648", "-2147483648", "-2147483649", "9223372036854775807", "-9223372036854775808", "18446744073709551621", "-340282366920938463463374607431768211457"}[r.IntN(12)]
	case 5:
		return strconv.FormatInt(r.Int64N(1<<62)-1<<61, 10)
	case 6:
		f := r.NormFloat64() * math.Pow(10, float64(r.IntN(40)-20))
		return strconv.FormatFloat(f, []byte("egf")[r.IntN(3)], -1, 64)
	case 7:
		return []string{"1.0", "0.1", "1e2", "1E-7", "-0.0", "1.5e300", "123456789.125", "2.5E+10"}[r.IntN(8)]
	case 8:
		return []string{"true", "false", "null"}[r.IntN(3)]
	}
	return `"` + strings.Repeat("abcdefgh", 1+r.IntN(200)) + `"` // compresses well
}

func genString(r *rand.Rand) string {
	pieces := []string{"a", "id", "type", "é", "日本", "😀", `\"`, `\\`, `\n`, `\u00e9`, `\u0001`, " ", "phx_ref", "specversion"}
	var sb strings.Builder
	sb.WriteByte('"')
	for range r.IntN(5) {
		sb.WriteString(pieces[r.IntN(len(pieces))])
	}
	sb.WriteByte('"')
	var s string
	if json.Unmarshal([]byte(sb.String()), &s) != nil {
		panic(sb.String())
	}
	return sb.String()
}
