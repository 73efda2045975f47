package nn_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/vkcnn/vkcnn/cpu"
	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/tensor"
)

// interopSpec exercises rectangular kernels, padding, strides, dilation,
// groups, no bias and parameterless layers between parameterized ones. Its
// PyTorch twin is in torchModel below.
const interopSpec = "conv(1,4,3x5,p1x2) relu maxpool(3,s2,p1) conv(4,6,3,p2,d2,g2,nobias) tanh avgpool(2) flatten dense(24,5) dropout(0.5) softmax"

func buildInterop(t *testing.T, b tensor.Backend, dt tensor.DType, seed uint64) *nn.Sequential {
	t.Helper()
	return buildModel(t, b, dt, interopSpec, tensor.Shape{1, 8, 8}, seed)
}

// output runs m on x and returns the output as float64.
func output(t *testing.T, m *nn.Sequential, x *tensor.Tensor) []float64 {
	t.Helper()
	y, err := m.Forward(x)
	if err != nil {
		t.Fatal(err)
	}
	h, err := nn.ToHost(y)
	if err != nil {
		t.Fatal(err)
	}
	return h.Float64s()
}

func TestSafetensorsRoundTrip(t *testing.T) {
	for _, tb := range backends() {
		t.Run(tb.name, func(t *testing.T) {
			b := tb.open(t)
			dir := t.TempDir()
			path := filepath.Join(dir, "model.safetensors")
			a := buildInterop(t, b, tb.dt, 1)
			if err := a.SaveSafetensors(path); err != nil {
				t.Fatal(err)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("directory holds %d entries after an atomic save, expected 1", len(entries))
			}
			checkHeader(t, path, tb.dt)
			x := upload(t, b, tb.dt, tensor.Shape{2, 1, 8, 8}, randn(3, 128))
			want := output(t, a, x)
			bm := buildInterop(t, b, tb.dt, 2)
			if slices.Equal(output(t, bm, x), want) {
				t.Fatal("models with seeds 1 and 2 agree before loading")
			}
			if err := bm.LoadSafetensors(path); err != nil {
				t.Fatal(err)
			}
			if got := output(t, bm, x); !slices.Equal(got, want) {
				t.Errorf("loaded model gives %v, expected %v", got[:5], want[:5])
			}
			c, err := nn.LoadModel(path, b)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Free()
			if c.String() != interopSpec || c.DType() != tb.dt {
				t.Errorf("LoadModel: %q in %v, expected %q in %v", c, c.DType(), interopSpec, tb.dt)
			}
			if got := output(t, c, x); !slices.Equal(got, want) {
				t.Errorf("LoadModel's model gives %v, expected %v", got[:5], want[:5])
			}
		})
	}
}

// checkHeader parses the file's header by hand, so the layout is checked even
// where PyTorch is missing.
func checkHeader(t *testing.T, path string, dt tensor.DType) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(data)
	if n%8 != 0 || 8+n > uint64(len(data)) {
		t.Fatalf("header length %d in a file of %d bytes", n, len(data))
	}
	var header map[string]struct {
		DType   string `json:"dtype"`
		Shape   []int  `json:"shape"`
		Offsets [2]int `json:"data_offsets"`
	}
	var meta struct {
		Meta map[string]string `json:"__metadata__"`
	}
	if err := json.Unmarshal(data[8:8+n], &meta); err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data[8:8+n], &raw); err != nil {
		t.Fatal(err)
	}
	delete(raw, "__metadata__")
	js, _ := json.Marshal(raw)
	if err := json.Unmarshal(js, &header); err != nil {
		t.Fatal(err)
	}
	code, size := "F32", 4
	if dt == tensor.Float64 {
		code, size = "F64", 8
	}
	want := map[string][]int{"0.weight": {4, 1, 3, 5}, "0.bias": {4}, "3.weight": {6, 2, 3, 3}, "7.weight": {5, 24}, "7.bias": {5}}
	var keys []string
	total := 0
	for k, e := range header {
		keys = append(keys, k)
		if !slices.Equal(e.Shape, want[k]) || e.DType != code {
			t.Errorf("%s: %s %v, expected %s %v", k, e.DType, e.Shape, code, want[k])
		}
		if e.Offsets[1]-e.Offsets[0] != tensor.Shape(e.Shape).Len()*size {
			t.Errorf("%s: offsets %v for shape %v", k, e.Offsets, e.Shape)
		}
		total += e.Offsets[1] - e.Offsets[0]
	}
	slices.Sort(keys)
	if strings.Join(keys, " ") != "0.bias 0.weight 3.weight 7.bias 7.weight" {
		t.Errorf("tensors %v, expected 0.bias 0.weight 3.weight 7.bias 7.weight", keys)
	}
	if total != len(data)-8-int(n) {
		t.Errorf("tensors hold %d bytes, data section %d", total, len(data)-8-int(n))
	}
	if meta.Meta["format"] != "pt" || meta.Meta[nn.MetaSpec] != interopSpec || meta.Meta[nn.MetaInput] != "1,8,8" {
		t.Errorf("metadata %v", meta.Meta)
	}
}

func TestSafetensorsErrorsNameTheTensor(t *testing.T) {
	b := cpu64(t)
	m := buildInterop(t, b, tensor.Float32, 1)
	sd, err := m.StateDict()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, sd map[string]nn.HostTensor) string {
		p := filepath.Join(dir, name)
		if err := nn.WriteSafetensors(p, sd, nil); err != nil {
			t.Fatal(err)
		}
		return p
	}
	missing := maps(sd)
	delete(missing, "3.weight")
	shape := maps(sd)
	shape["7.bias"] = nn.HostTensor{Shape: tensor.Shape{6}, Data: make([]float32, 6)}
	extra := maps(sd)
	extra["9.weight"] = nn.HostTensor{Shape: tensor.Shape{1}, Data: []float64{1}}
	for _, c := range []struct {
		path, want string
		is         error
	}{
		{write("missing.safetensors", missing), `tensor "3.weight" missing`, tensor.ErrShape},
		{write("shape.safetensors", shape), `tensor "7.bias" has shape [6], expected [5]`, tensor.ErrShape},
		{write("extra.safetensors", extra), `unexpected tensor "9.weight"`, tensor.ErrShape},
		{filepath.Join(dir, "absent.safetensors"), "no such file", os.ErrNotExist},
	} {
		before, _ := m.Param("0.weight").Get()
		err := m.LoadSafetensors(c.path)
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, c.is) {
			t.Errorf("%s: error %v, expected %q wrapping %v", filepath.Base(c.path), err, c.want, c.is)
		}
		if after, _ := m.Param("0.weight").Get(); !slices.Equal(before, after) {
			t.Errorf("%s: a failed load changed 0.weight", filepath.Base(c.path))
		}
	}
	// A float64 file loads into a float32 model.
	wide := map[string]nn.HostTensor{}
	for k, h := range sd {
		wide[k] = nn.HostTensor{Shape: h.Shape, Data: h.Float64s()}
	}
	if err := m.LoadSafetensors(write("wide.safetensors", wide)); err != nil {
		t.Errorf("loading float64 weights into a float32 model: %v", err)
	}
	if _, err := nn.LoadModel(write("nometa.safetensors", sd), b); !errors.Is(err, nn.ErrFormat) {
		t.Errorf("LoadModel without metadata: %v, expected ErrFormat", err)
	}
	if err := nn.WriteSafetensors(filepath.Join(dir, "no", "such", "dir.safetensors"), sd, nil); err == nil {
		t.Error("writing into a missing directory: no error")
	}
	if err := nn.WriteSafetensors(filepath.Join(dir, "bad.safetensors"), map[string]nn.HostTensor{"x": {Shape: tensor.Shape{3}, Data: []float32{1}}}, nil); !errors.Is(err, tensor.ErrShape) {
		t.Errorf("writing 1 value for shape [3]: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 5 {
		t.Errorf("%d files in the directory, expected the 5 written: temporary files left behind?", len(entries))
	}
}

func maps(sd map[string]nn.HostTensor) map[string]nn.HostTensor {
	out := map[string]nn.HostTensor{}
	for k, v := range sd {
		out[k] = v
	}
	return out
}

// encode returns a safetensors file with a hand-written header and data.
func encode(header string, data []byte) []byte {
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(out, header...), data...)
}

func TestDecodeSafetensorsRejectsCorruptFiles(t *testing.T) {
	var good bytes.Buffer
	err := nn.EncodeSafetensors(&good, map[string]nn.HostTensor{
		"a": {Shape: tensor.Shape{2, 2}, Data: []float32{1, 2, 3, 4}},
		"b": {Shape: tensor.Shape{}, Data: []float64{5}},
	}, map[string]string{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	ts, meta, err := nn.DecodeSafetensors(good.Bytes())
	if err != nil || meta["k"] != "v" || !slices.Equal(ts["a"].Data.([]float32), []float32{1, 2, 3, 4}) || ts["b"].Data.([]float64)[0] != 5 || len(ts["b"].Shape) != 0 {
		t.Fatalf("decode: %v %v %v", ts, meta, err)
	}
	// Every truncation fails cleanly.
	for n := range good.Len() {
		if _, _, err := nn.DecodeSafetensors(good.Bytes()[:n]); !errors.Is(err, nn.ErrFormat) {
			t.Fatalf("truncated to %d of %d bytes: %v, expected ErrFormat", n, good.Len(), err)
		}
	}
	four := make([]byte, 16)
	for _, c := range []struct {
		file []byte
		want string
	}{
		{encode(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, four), "cover 8 data bytes, the file holds 16"},
		{encode(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, four[:12]), `tensor "b" starts at data byte 4, expected 8`},
		{encode(`{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`, four[:4]), `tensor "a": dtype "F16" unsupported`},
		{encode(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}}`, four[:8]), `tensor "a": data_offsets [0, 8] span 8 bytes, expected 4`},
		{encode(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, four[:8]), `tensor "a": shape [3] holds more elements than the 8 data bytes`},
		{encode(`{"a":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,8]}}`, four[:8]), `tensor "a": shape`},
		{encode(`{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}`, four[:8]), "negative"},
		{encode(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,80]}}`, four[:8]), "outside the 8 data bytes"},
		{encode(`{"a":{"dtype":"F32","shape":[2]}}`, four[:8]), `tensor "a": header entry needs`},
		{encode(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]`, four[:8]), "header JSON"},
		{encode(`[1,2]`, nil), "not a JSON object"},
		{encode(`{"__metadata__":{"k":1}}`, nil), "__metadata__"},
		{binary.LittleEndian.AppendUint64(nil, 1<<62), "does not fit"},
	} {
		_, _, err := nn.DecodeSafetensors(c.file)
		if !errors.Is(err, nn.ErrFormat) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, expected %q wrapping ErrFormat", c.file, err, c.want)
		}
	}
}

// FuzzLoadSafetensors feeds arbitrary bytes to the loader: it must not panic,
// must not allocate more than a small multiple of the input's size, and what
// it accepts must hold no more data than the input.
func FuzzLoadSafetensors(f *testing.F) {
	var good bytes.Buffer
	nn.EncodeSafetensors(&good, map[string]nn.HostTensor{
		"0.weight": {Shape: tensor.Shape{2, 1, 1, 1}, Data: []float32{1, 2}},
		"0.bias":   {Shape: tensor.Shape{2}, Data: []float32{3, 4}},
	}, map[string]string{"format": "pt"})
	f.Add(good.Bytes())
	f.Add(good.Bytes()[:good.Len()-3])
	f.Add(encode(`{"a":{"dtype":"F64","shape":[1099511627776],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Add(encode(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, make([]byte, 12)))
	f.Add(binary.LittleEndian.AppendUint64(nil, 1<<40))
	b := cpu64(f)
	m := nn.NewSequential(nn.Conv2D(1, 2, 1))
	if err := m.Build(b, tensor.Shape{1, 2, 2}, 1); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		ts, _, err := nn.DecodeSafetensors(data)
		runtime.ReadMemStats(&after)
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(64*len(data))+1<<20 {
			t.Fatalf("decoding %d bytes allocated %d bytes", len(data), alloc)
		}
		if err != nil {
			if !errors.Is(err, nn.ErrFormat) {
				t.Fatalf("error %v does not wrap ErrFormat", err)
			}
			return
		}
		held := 0
		for _, h := range ts {
			held += h.Shape.Len() * h.DType().Size()
		}
		if held > len(data) {
			t.Fatalf("decoded %d bytes of tensors from %d bytes", held, len(data))
		}
		m.LoadStateDict(ts) // must not panic; errors are expected
	})
}

// TestLoadModelChecksBeforeAllocating gives LoadModel a tiny file whose spec
// implies a 400 MB model: the missing tensor must be reported before Build
// allocates anything of that size.
func TestLoadModelChecksBeforeAllocating(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.safetensors")
	meta := map[string]string{nn.MetaSpec: "dense(10000,10000)", nn.MetaInput: "10000"}
	if err := nn.WriteSafetensors(path, map[string]nn.HostTensor{}, meta); err != nil {
		t.Fatal(err)
	}
	b := cpu.New()
	defer b.Close()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := nn.LoadModel(path, b)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, nn.ErrFormat) || !strings.Contains(err.Error(), `"0.weight"`) {
		t.Fatalf("LoadModel error %v, want an ErrFormat error naming 0.weight", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Errorf("LoadModel allocated %d bytes for a file without tensors", grew)
	}
}
