package nn_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/tensor"
)

func TestParseRoundTrip(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"conv(1,8,3,p1) relu maxpool(2) flatten dense(1568,10)", ""},
		{"  conv(1, 8, 3, p1)\trelu  MaxPool(2, s2) ", "conv(1,8,3,p1) relu maxpool(2)"},
		{"conv(1,8,3x3,s1,p0,d1,g1)", "conv(1,8,3)"},
		{"conv(4,8,3x5,s2x1,p1x2,d2,g4,nobias)", ""},
		{"maxpool(3,s2,p1) avgpool(2x3,s1,excludepad) gap", ""},
		{"reshape(8,-1) softmax sigmoid tanh dropout(0.50)", "reshape(8,-1) softmax sigmoid tanh dropout(0.5)"},
		{"dense(10,1,nobias) dropout(0)", ""},
		{"conv(1,4,3,p1) residual[conv(4,4,3,p1) relu conv(4,4,3,p1)] relu", ""},
		{"residual[ conv(4,8,3,s2,p1)  relu|conv(4,8,1,s2,nobias) ] gap", "residual[conv(4,8,3,s2,p1) relu | conv(4,8,1,s2,nobias)] gap"},
		{"Residual[residual[relu] | residual[tanh]]", "residual[residual[relu] | residual[tanh]]"},
		{"leakyrelu leakyrelu(0.01) leakyrelu(0.2) silu", "leakyrelu leakyrelu leakyrelu(0.2) silu"},
		{"BatchNorm2d(16) batchnorm1d( 8 )", "batchnorm2d(16) batchnorm1d(8)"},
	} {
		m, err := nn.Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		want := c.want
		if want == "" {
			want = c.in
		}
		if got := m.String(); got != want {
			t.Errorf("Parse(%q).String() = %q, expected %q", c.in, got, want)
		}
		again, err := nn.Parse(m.String())
		if err != nil || again.String() != m.String() {
			t.Errorf("round trip of %q: %v, %v", m.String(), again, err)
		}
	}
	built := nn.NewSequential(nn.Conv2D(1, 8, 3, nn.Pad(1)), nn.ReLU(), nn.MaxPool2D(2), nn.Flatten(), nn.Dense(1568, 10))
	if built.String() != "conv(1,8,3,p1) relu maxpool(2) flatten dense(1568,10)" {
		t.Errorf("constructed model prints %q", built)
	}
	js, err := json.Marshal(struct{ Model *nn.Sequential }{built})
	if err != nil || string(js) != `{"Model":"conv(1,8,3,p1) relu maxpool(2) flatten dense(1568,10)"}` {
		t.Errorf("JSON %s, %v", js, err)
	}
	var back struct{ Model *nn.Sequential }
	if err := json.Unmarshal(js, &back); err != nil || back.Model.String() != built.String() {
		t.Errorf("JSON back: %v, %v", back.Model, err)
	}
	if err := back.Model.Build(cpu64(t), tensor.Shape{1, 28, 28}, 1); err != nil {
		t.Fatal(err)
	}
	defer back.Model.Free()
	if got := back.Model.OutShape(); !got.Equal(tensor.Shape{10}) {
		t.Errorf("parsed model output %v, expected [10]", got)
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "empty"},
		{"conv(1,8)", `layer 0 "conv(1,8)": conv needs in, out and kernel size`},
		{"relu conv(1,8,3,q1)", `layer 1 "conv(1,8,3,q1)": option "q1" unknown`},
		{"conv(1,8,3,p1,p2)", `option "p2" given twice`},
		{"conv(1,8,3,g2x2)", "groups is one number"},
		{"conv(1,-8,3)", `"-8" is not a non-negative integer`},
		{"relu(1)", "relu takes no arguments"},
		{"foo", "unknown layer"},
		{"conv(1,8,3", "closing parenthesis"},
		{"relu,tanh", "white space between layers"},
		{"(relu)", "a layer name"},
		{"dropout(1.5)", "expected a number in [0, 1)"},
		{"dense(1,2,3)", `option "3" unknown`},
		{"maxpool(2,nobias)", `option "nobias" unknown`},
		{"reshape(a)", "not an integer"},
		{"residual[relu", "closing bracket"},
		{"relu[tanh]", "brackets only after residual"},
		{"residual(relu)", "residual needs its layers in brackets"},
		{"residual", "residual needs its layers in brackets"},
		{"residual[relu | tanh | relu]", "expected body or body | shortcut"},
		{"residual[foo]", `layer 0 "residual[foo]": body: model spec: layer 0 "foo": unknown layer`},
		{"residual[relu | ]", "shortcut: model spec is empty"},
		{"residual[relu]tanh", "white space between layers"},
		{"leakyrelu(x)", "expected a finite number"},
		{"batchnorm2d", "batchnorm2d needs the channel count"},
		{"batchnorm1d(a)", `"a" is not a non-negative integer`},
		{"leakyrelu(1,2)", "leakyrelu takes one slope"},
	} {
		_, err := nn.Parse(c.in)
		if err == nil || !errors.Is(err, nn.ErrFormat) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q): error %v, expected one containing %q wrapping ErrFormat", c.in, err, c.want)
		}
	}
}

// FuzzParse checks that Parse never panics and that whatever it accepts
// prints back to a spec that parses to the same text.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"conv(1,8,3,p1) relu maxpool(2) flatten dense(1568,10)",
		"conv(4,8,3x5,s2x1,p1x2,d2,g4,nobias)", "avgpool(2x3,s1,excludepad) gap", "reshape(8,-1) dropout(0.5)", "conv(1,8,3",
		"residual[conv(4,8,3,s2,p1) relu | conv(4,8,1,s2,nobias)] relu"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := nn.Parse(s)
		if err != nil {
			if !errors.Is(err, nn.ErrFormat) {
				t.Fatalf("Parse(%q): error %v does not wrap ErrFormat", s, err)
			}
			return
		}
		again, err := nn.Parse(m.String())
		if err != nil || again.String() != m.String() {
			t.Fatalf("Parse(%q) prints %q, which parses to %v, %v", s, m.String(), again, err)
		}
	})
}
