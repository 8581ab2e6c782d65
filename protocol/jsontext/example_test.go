package jsontext_test

import (
	"fmt"

	"github.com/fawkes-rt/fawkes/protocol/jsontext"
)

func ExampleScanner_Members() {
	data := []byte(`{"type":"com.example.created","data":{"id":[1,2]},"type":"x"}`)
	_, err := jsontext.Scanner{}.Members(data, 0, func(key, value []byte) {
		name, _ := jsontext.Unquote(key)
		fmt.Printf("%s (%v): %s\n", name, jsontext.KindOf(value), value)
	})
	fmt.Println(err)
	// Output:
	// type (string): "com.example.created"
	// data (object): {"id":[1,2]}
	// type (string): "x"
	// <nil>
}

func ExampleScanner_Value() {
	sc := jsontext.Scanner{MaxDepth: 2}
	data := []byte(`[[1], 2] tail`)
	end, err := sc.Value(data, 0)
	fmt.Println(end, err, string(data[end:]))
	_, err = sc.Value([]byte(`[[[1]]]`), 0)
	fmt.Println(err)
	// Output:
	// 8 <nil>  tail
	// jsontext: nested too deeply at offset 2
}

func ExampleAppendQuote() {
	buf := make([]byte, 0, jsontext.QuotedLen("say \"hi\"\n"))
	buf = jsontext.AppendQuote(buf, "say \"hi\"\n")
	s, ok := jsontext.Unquote(buf)
	fmt.Println(string(buf), len(buf) == cap(buf), s == "say \"hi\"\n", ok)
	// Output: "say \"hi\"\n" true true true
}
