package wire_test

import (
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rigging-dev/rigging/external/internal/wire"
)

// DecodeItem accepts exactly what unstructured.UnmarshalJSON accepts, with
// the same values, and reports a missing kind with the same message.
func TestDecodeItemMatchesUnstructured(t *testing.T) {
	tests := []struct {
		in          string
		missingKind bool
	}{
		{in: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","generation":3},"spec":{"x":[1,2.5,-0,1e3,"s",true,null,{}]}}`},
		{in: `{"kind":"Pod","a":1,"a":"last"}`},
		{in: `{"kind":"Pod","s":"\ud800 \u00e9 ` + "\xff" + `"}`},
		{in: `{"kind":"List","items":[{"kind":"Pod"}]}`},
		{in: `{}`, missingKind: true},
		{in: `{"kind":""}`, missingKind: true},
		{in: `{"kind":1}`, missingKind: true},
		{in: `{"apiVersion":"v1"}`, missingKind: true},
		{in: `null`}, // unstructured: missing kind; DecodeItem: not an object
		{in: `[]`},
		{in: `"Pod"`},
		{in: `{"kind":"Pod"} x`},
		{in: `{"kind":"Pod","n":1e400}`},
		{in: `{"kind":"Pod",}`},
	}
	for _, tt := range tests {
		var ref unstructured.Unstructured
		refErr := ref.UnmarshalJSON([]byte(tt.in))
		u, err := wire.DecodeItem([]byte(tt.in))
		if (err != nil) != (refErr != nil) {
			t.Errorf("DecodeItem(%s): error %v, unstructured: %v", tt.in, err, refErr)
			continue
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "decode item: ") {
				t.Errorf("DecodeItem(%s): error %q does not say what failed", tt.in, err)
			}
			if tt.missingKind && err.Error() != "decode item: "+refErr.Error() {
				t.Errorf("DecodeItem(%s): error %q, want the missing-kind error %q", tt.in, err, "decode item: "+refErr.Error())
			}
			continue
		}
		if !reflect.DeepEqual(u.Object, ref.Object) {
			t.Errorf("DecodeItem(%s) = %#v, unstructured %#v", tt.in, u.Object, ref.Object)
		}
	}
}
