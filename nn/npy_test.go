package nn_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/tensor"
)

func TestNpyRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for i, h := range []nn.HostTensor{
		{Shape: tensor.Shape{}, Data: []float32{3.5}},
		{Shape: tensor.Shape{5}, Data: []float64{1, -2, 3e300, 0, -0.5}},
		{Shape: tensor.Shape{2, 3, 4}, Data: make([]float32, 24)},
		{Shape: tensor.Shape{0, 3}, Data: []float64{}},
	} {
		var buf bytes.Buffer
		if err := nn.WriteNpy(&buf, h); err != nil {
			t.Fatal(err)
		}
		raw := buf.Bytes()
		hl := int(binary.LittleEndian.Uint16(raw[8:]))
		if string(raw[:8]) != "\x93NUMPY\x01\x00" || (10+hl)%64 != 0 || raw[10+hl-1] != '\n' {
			t.Errorf("array %d: preamble %q, header length %d", i, raw[:8], hl)
		}
		path := filepath.Join(dir, "a.npy")
		if err := nn.SaveNpy(path, h); err != nil {
			t.Fatal(err)
		}
		got, err := nn.LoadNpy(path)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Shape.Equal(h.Shape) || got.DType() != h.DType() || !slices.Equal(got.Float64s(), h.Float64s()) {
			t.Errorf("array %d: read back %v %v, wrote %v %v", i, got.Shape, got.Data, h.Shape, h.Data)
		}
	}
	// Version 2.0 has a 4-byte header length.
	header := "{'descr': '<f8', 'fortran_order': False, 'shape': (2L,), }\n"
	v2 := append([]byte("\x93NUMPY\x02\x00"), binary.LittleEndian.AppendUint32(nil, uint32(len(header)))...)
	v2 = append(append(v2, header...), make([]byte, 16)...)
	if h, err := nn.ReadNpy(bytes.NewReader(v2)); err != nil || !h.Shape.Equal(tensor.Shape{2}) || h.DType() != tensor.Float64 {
		t.Errorf("version 2.0: %v %v", h, err)
	}
	if err := nn.WriteNpy(&bytes.Buffer{}, nn.HostTensor{Shape: tensor.Shape{2}, Data: []int{1, 2}}); !errors.Is(err, tensor.ErrDType) {
		t.Errorf("writing []int: %v, expected ErrDType", err)
	}
}

// npyFile returns a version 1.0 file with the given header dict and data.
func npyFile(dict string, data []byte) []byte {
	out := append([]byte("\x93NUMPY\x01\x00"), binary.LittleEndian.AppendUint16(nil, uint16(len(dict)))...)
	return append(append(out, dict...), data...)
}

func TestReadNpyErrors(t *testing.T) {
	for _, c := range []struct {
		file []byte
		want string
	}{
		{[]byte("\x93NUMP"), "reading the magic"},
		{[]byte("\x89PNG\r\n\x1a\n...."), "magic"},
		{[]byte("\x93NUMPY\x03\x00\x00\x00\x00\x00"), "version 3.0, expected 1.0 or 2.0"},
		{npyFile("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", make([]byte, 4)), "big-endian"},
		{npyFile("{'descr': '<i4', 'fortran_order': False, 'shape': (1,), }", make([]byte, 4)), `dtype "<i4" unsupported`},
		{npyFile("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", make([]byte, 16)), "Fortran order"},
		{npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", make([]byte, 16)), "data truncated: 16 bytes, expected 24"},
		{npyFile("{'descr': '<f4', 'shape': (3,), }", nil), `key "fortran_order" missing`},
		{npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'x': 1}", nil), "unexpected key"},
		{npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (-3,), }", nil), "non-negative integer"},
		{npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }", nil), "more than 2^40"},
		{npyFile("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (3,), }", nil), "True or False"},
		{npyFile("{'descr': '<f4'", nil), "expected ',' or '}' after descr"},
		{npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", nil)[:30], "header truncated: 20 of 57 bytes"},
		{npyFile("{'descr': '<f4', 'descr': '<f4'}", nil), "given twice"},
	} {
		_, err := nn.ReadNpy(bytes.NewReader(c.file))
		if !errors.Is(err, nn.ErrFormat) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, expected %q wrapping ErrFormat", c.file, err, c.want)
		}
	}
	if _, err := nn.LoadNpy(filepath.Join(t.TempDir(), "none.npy")); err == nil {
		t.Error("loading a missing file: no error")
	}
}

// FuzzReadNpy checks that ReadNpy never panics and allocates no more than a
// small multiple of its input, whatever the header promises.
func FuzzReadNpy(f *testing.F) {
	var good bytes.Buffer
	nn.WriteNpy(&good, nn.HostTensor{Shape: tensor.Shape{2, 3}, Data: []float32{1, 2, 3, 4, 5, 6}})
	f.Add(good.Bytes())
	f.Add(good.Bytes()[:good.Len()-5])
	f.Add(npyFile("{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627775,), }", make([]byte, 8)))
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		h, err := nn.ReadNpy(bytes.NewReader(data))
		runtime.ReadMemStats(&after)
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(16*len(data))+1<<20 {
			t.Fatalf("reading %d bytes allocated %d bytes", len(data), alloc)
		}
		if err != nil {
			if !errors.Is(err, nn.ErrFormat) {
				t.Fatalf("error %v does not wrap ErrFormat", err)
			}
			return
		}
		if h.Shape.Len()*h.DType().Size() > len(data) {
			t.Fatalf("array %v from %d bytes", h.Shape, len(data))
		}
	})
}
