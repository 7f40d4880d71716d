package ujson

import (
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// retainDoc builds a document with escaped and unescaped strings, boxed
// ints outside the runtime's static range, arrays below and above the slab
// limit, and nested objects, all depending on i.
func retainDoc(i int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `{"kind":"K%d","esc":"a\"b\\n\u00e9\ud83d\ude00-%d","n":%d,"neg":%d,"f":%d.5,`, i, i, 1000+i, -i-1, i)
	b.WriteString(`"small":[`)
	for j := 0; j < 5; j++ {
		if j > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"s%d-%d",%d`, i, j, 300+i*j)
	}
	b.WriteString(`],"big":[`)
	for j := 0; j < 100; j++ {
		if j > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"k%d":"v%d\t%d","x":[%d,[]]}`, j, i, j, i*1000+j)
	}
	b.WriteString(`],"bad":"` + "\xff" + fmt.Sprint(i) + `"}`)
	return []byte(b.String())
}

// TestDecodedValuesSurviveLaterDecodes keeps the trees of many decodes
// (from pooled decoders, on several goroutines, with collections in
// between), then checks every one still equals the reference decoding, and
// that mutating one tree leaves the others untouched.
func TestDecodedValuesSurviveLaterDecodes(t *testing.T) {
	const n = 400
	got := make([]map[string]any, n)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				data := retainDoc(i)
				m, err := Unmarshal(data)
				if err != nil {
					t.Error(err)
					return
				}
				clear(data) // the caller reuses its buffer
				got[i] = m
				if i%16 == 0 {
					runtime.GC()
				}
			}
		}(w)
	}
	wg.Wait()
	runtime.GC()
	// Churn the pool and the heap.
	for i := 0; i < 2000; i++ {
		if _, err := Unmarshal(retainDoc(i)); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.GC()
	// Mutate every odd tree the ways a caller may.
	for i := 1; i < n; i += 2 {
		m := got[i]
		m["kind"] = "changed"
		m["small"].([]any)[0] = "changed"
		m["small"] = append(m["small"].([]any), "more")
		m["big"].([]any)[0].(map[string]any)["x"] = nil
	}
	for i := 0; i < n; i += 2 {
		want, err := reference(retainDoc(i))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(any(got[i]), want) {
			t.Fatalf("tree %d changed after later decodes:\n got %v\nwant %v", i, got[i], want)
		}
	}
}
