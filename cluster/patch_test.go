package cluster

import (
	"encoding/json"
	"testing"
)

func TestMergePatch(t *testing.T) {
	tests := []struct {
		name     string
		from, to string
		want     string // "" means no patch
	}{
		{"same", `{"a":1,"b":{"c":[1,2]}}`, `{"a":1,"b":{"c":[1,2]}}`, ""},
		{"changed scalar", `{"a":1}`, `{"a":2}`, `{"a":2}`},
		{"removed key is null", `{"a":1,"b":2}`, `{"a":1}`, `{"b":null}`},
		{"added key", `{}`, `{"a":{"b":1}}`, `{"a":{"b":1}}`},
		{"nested", `{"m":{"l":{"x":"1","y":"2"}}}`, `{"m":{"l":{"x":"1","y":"3","z":"4"}}}`, `{"m":{"l":{"y":"3","z":"4"}}}`},
		{"list replaced whole", `{"a":[1,2]}`, `{"a":[1]}`, `{"a":[1]}`},
		{"object to scalar", `{"a":{"b":1}}`, `{"a":"x"}`, `{"a":"x"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var from, to map[string]any
			if err := json.Unmarshal([]byte(tt.from), &from); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(tt.to), &to); err != nil {
				t.Fatal(err)
			}
			got, err := mergePatch(from, to)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("mergePatch = %s, want %s", got, tt.want)
			}
		})
	}
}
