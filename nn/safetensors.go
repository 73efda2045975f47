package nn

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/vkcnn/vkcnn/internal/atomicfile"

	"github.com/vkcnn/vkcnn/tensor"
)

// The safetensors format: an 8-byte little-endian header length N, N bytes of
// JSON mapping each tensor name to {"dtype", "shape", "data_offsets": [begin,
// end]} (byte offsets into the data that follows the header) plus an optional
// "__metadata__" object of strings, then the tensors' little-endian data. The
// tensors cover the data exactly, without gaps or overlaps.

// maxSafetensorsHeader bounds the JSON header (the reference implementation's
// limit).
const maxSafetensorsHeader = 100 << 20

// Metadata keys SaveSafetensors writes besides "format": "pt".
const (
	// MetaSpec holds the model spec (Sequential.String).
	MetaSpec = "vkcnn.spec"
	// MetaInput holds the per-sample input shape, comma-separated: "1,28,28".
	MetaInput = "vkcnn.input"
)

// safetensorsEntry is one tensor's header entry.
type safetensorsEntry struct {
	DType       string   `json:"dtype"`
	Shape       []int    `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// dtypeCode returns "F32", "F64" or "I64" for h's data and the size of one
// element in bytes.
func dtypeCode(h HostTensor) (string, int) {
	switch h.Data.(type) {
	case []float64:
		return "F64", 8
	case []int64:
		return "I64", 8
	}
	return "F32", 4
}

// EncodeSafetensors writes the tensors and the metadata (may be nil) to w in
// the safetensors format, data in name order. Names must not be empty or
// "__metadata__"; each tensor's Data must match its Shape. Errors: ErrFormat
// for a bad name, tensor.ErrShape or ErrDType for data that does not match,
// and w's write errors.
func EncodeSafetensors(w io.Writer, tensors map[string]HostTensor, meta map[string]string) error {
	names := make([]string, 0, len(tensors))
	for name := range tensors {
		names = append(names, name)
	}
	slices.Sort(names)
	header := map[string]any{}
	if len(meta) > 0 {
		header["__metadata__"] = meta
	}
	var off int64
	for _, name := range names {
		h := tensors[name]
		if name == "" || name == "__metadata__" {
			return fmt.Errorf("safetensors: tensor name %q is reserved or empty: %w", name, tensor.ErrParam)
		}
		if err := h.check("safetensors: tensor " + strconv.Quote(name)); err != nil {
			return err
		}
		code, elem := dtypeCode(h)
		size := int64(h.Shape.Len() * elem)
		header[name] = safetensorsEntry{DType: code, Shape: append([]int{}, h.Shape...), DataOffsets: [2]int64{off, off + size}}
		off += size
	}
	js, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("safetensors header: %w", err)
	}
	for len(js)%8 != 0 {
		js = append(js, ' ')
	}
	if _, err := w.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(js)))); err != nil {
		return err
	}
	if _, err := w.Write(js); err != nil {
		return err
	}
	for _, name := range names {
		if _, err := w.Write(encodeLE(tensors[name].Data)); err != nil {
			return err
		}
	}
	return nil
}

// encodeLE returns the little-endian bytes of a []float32, []float64 or
// []int64.
func encodeLE(data any) []byte {
	switch d := data.(type) {
	case []int64:
		out := make([]byte, 0, 8*len(d))
		for _, v := range d {
			out = binary.LittleEndian.AppendUint64(out, uint64(v))
		}
		return out
	case []float32:
		out := make([]byte, 0, 4*len(d))
		for _, v := range d {
			out = binary.LittleEndian.AppendUint32(out, math.Float32bits(v))
		}
		return out
	case []float64:
		out := make([]byte, 0, 8*len(d))
		for _, v := range d {
			out = binary.LittleEndian.AppendUint64(out, math.Float64bits(v))
		}
		return out
	}
	return nil
}

// decodeLE decodes little-endian float32 or float64 values.
func decodeLE(b []byte, dt tensor.DType) any {
	if dt == tensor.Float64 {
		out := make([]float64, len(b)/8)
		for i := range out {
			out[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
		}
		return out
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// DecodeSafetensors parses a safetensors file held in data and returns its
// tensors (F32 as []float32, F64 as []float64, I64 as []int64) and metadata. Every length and
// offset is checked against the size of data before anything is allocated, so
// a corrupt file costs no more memory than its size. Errors wrap ErrFormat and
// name the tensor at fault.
func DecodeSafetensors(data []byte) (map[string]HostTensor, map[string]string, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("safetensors: "+format+": %w", append(args, ErrFormat)...)
	}
	if len(data) < 8 {
		return nil, nil, bad("file has %d bytes, expected at least 8 for the header length", len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	if n > uint64(len(data)-8) || n > maxSafetensorsHeader {
		return nil, nil, bad("header length %d does not fit the file of %d bytes (limit %d)", n, len(data), maxSafetensorsHeader)
	}
	header, body := data[8:8+n], data[8+n:]
	if len(bytes.TrimSpace(header)) == 0 || bytes.TrimSpace(header)[0] != '{' {
		return nil, nil, bad("header is not a JSON object")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(header, &raw); err != nil {
		return nil, nil, bad("header JSON: %v", err)
	}
	var meta map[string]string
	type span struct {
		name       string
		begin, end int64
	}
	var spans []span
	entries := map[string]safetensorsEntry{}
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &meta); err != nil {
				return nil, nil, bad("__metadata__ is not an object of strings: %v", err)
			}
			continue
		}
		var e struct {
			DType       *string  `json:"dtype"`
			Shape       *[]int64 `json:"shape"`
			DataOffsets *[]int64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, nil, bad("tensor %q: header entry: %v", name, err)
		}
		if e.DType == nil || e.Shape == nil || e.DataOffsets == nil || len(*e.DataOffsets) != 2 {
			return nil, nil, bad("tensor %q: header entry needs dtype, shape and two data_offsets", name)
		}
		var size int64
		switch *e.DType {
		case "F32":
			size = 4
		case "F64", "I64":
			size = 8
		default:
			return nil, nil, bad("tensor %q: dtype %q unsupported, expected F32, F64 or I64", name, *e.DType)
		}
		limit := int64(len(body)) / size // the most elements the data can hold
		count := int64(1)
		shape := make(tensor.Shape, len(*e.Shape))
		for i, d := range *e.Shape {
			if d < 0 {
				return nil, nil, bad("tensor %q: shape %v has a negative dimension", name, *e.Shape)
			}
			if d > 0 && count > limit/d {
				return nil, nil, bad("tensor %q: shape %v holds more elements than the %d data bytes", name, *e.Shape, len(body))
			}
			count *= d
			shape[i] = int(d)
		}
		begin, end := (*e.DataOffsets)[0], (*e.DataOffsets)[1]
		if begin < 0 || end < begin || end > int64(len(body)) {
			return nil, nil, bad("tensor %q: data_offsets [%d, %d] outside the %d data bytes", name, begin, end, len(body))
		}
		if end-begin != count*size {
			return nil, nil, bad("tensor %q: data_offsets [%d, %d] span %d bytes, expected %d for %s %v", name, begin, end, end-begin, count*size, *e.DType, *e.Shape)
		}
		entries[name] = safetensorsEntry{DType: *e.DType, Shape: shape, DataOffsets: [2]int64{begin, end}}
		spans = append(spans, span{name, begin, end})
	}
	slices.SortFunc(spans, func(a, b span) int {
		return cmp.Or(cmp.Compare(a.begin, b.begin), cmp.Compare(a.end, b.end))
	})
	var pos int64
	for _, s := range spans {
		if s.begin != pos {
			return nil, nil, bad("tensor %q starts at data byte %d, expected %d (tensors must cover the data without gaps or overlaps)", s.name, s.begin, pos)
		}
		pos = s.end
	}
	if pos != int64(len(body)) {
		return nil, nil, bad("tensors cover %d data bytes, the file holds %d", pos, len(body))
	}
	out := make(map[string]HostTensor, len(entries))
	for name, e := range entries {
		raw := body[e.DataOffsets[0]:e.DataOffsets[1]]
		switch e.DType {
		case "I64":
			d := make([]int64, len(raw)/8)
			for i := range d {
				d[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
			}
			out[name] = HostTensor{Shape: e.Shape, Data: d}
		case "F64":
			out[name] = HostTensor{Shape: e.Shape, Data: decodeLE(raw, tensor.Float64)}
		default:
			out[name] = HostTensor{Shape: e.Shape, Data: decodeLE(raw, tensor.Float32)}
		}
	}
	return out, meta, nil
}

// WriteSafetensors writes tensors and metadata to the file path atomically
// (a temporary file in the same directory, then a rename). Errors as for
// EncodeSafetensors, and file errors naming path.
func WriteSafetensors(path string, tensors map[string]HostTensor, meta map[string]string) error {
	return atomicfile.Write(path, func(w io.Writer) error { return EncodeSafetensors(w, tensors, meta) })
}

// ReadSafetensors reads and decodes the safetensors file at path (see
// DecodeSafetensors): ErrFormat errors naming the tensor for a corrupt or
// truncated file, fs.ErrNotExist and other file errors naming path.
func ReadSafetensors(path string) (map[string]HostTensor, map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	ts, meta, err := DecodeSafetensors(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return ts, meta, nil
}

// StateDict downloads every parameter and buffer into a map keyed by its
// state_dict name ("0.weight", "1.running_mean", …), like PyTorch's
// state_dict(); an integer buffer (num_batches_tracked) comes as a []int64
// scalar. Errors: ErrNotBuilt and the backend's Download errors.
func (m *Sequential) StateDict() (map[string]HostTensor, error) {
	if err := m.ready("state dict"); err != nil {
		return nil, err
	}
	sd := map[string]HostTensor{}
	for _, p := range m.Params() {
		h, err := ToHost(p.Value)
		if err != nil {
			return nil, fmt.Errorf("state dict: %s: %w", p.Name, err)
		}
		sd[p.Name] = h
	}
	for _, b := range m.Buffers() {
		if b.Value == nil {
			sd[b.Name] = HostTensor{Shape: tensor.Shape{}, Data: []int64{*b.Count}}
			continue
		}
		h, err := ToHost(b.Value)
		if err != nil {
			return nil, fmt.Errorf("state dict: %s: %w", b.Name, err)
		}
		sd[b.Name] = h
	}
	return sd, nil
}

// LoadStateDict uploads the tensors of sd into the parameters and buffers of
// the same name, like PyTorch's strict load_state_dict: a missing tensor, an
// unexpected one or a shape that differs is an error naming the tensor
// (wrapping tensor.ErrShape; an integer buffer given as floats or the reverse
// wraps tensor.ErrDType), and then nothing is loaded. float32 and float64 data
// are converted to the model's dtype.
func (m *Sequential) LoadStateDict(sd map[string]HostTensor) error {
	if err := m.ready("load state dict"); err != nil {
		return err
	}
	type slot struct {
		name  string
		shape tensor.Shape
		count *int64 // integer buffer
		set   func(data any) error
	}
	var slots []slot
	for _, p := range m.Params() {
		slots = append(slots, slot{p.Name, p.Value.Shape(), nil, p.Set})
	}
	for _, b := range m.Buffers() {
		if b.Value == nil {
			slots = append(slots, slot{b.Name, tensor.Shape{}, b.Count, nil})
			continue
		}
		v := b.Value
		slots = append(slots, slot{b.Name, v.Shape(), nil, func(data any) error {
			d, err := convertHost(data, v.DType(), v.Len(), "buffer "+b.Name)
			if err != nil {
				return err
			}
			return v.Backend().Upload(v, d)
		}})
	}
	known := map[string]bool{}
	for _, sl := range slots {
		known[sl.name] = true
		h, ok := sd[sl.name]
		if !ok {
			return fmt.Errorf("load state dict: tensor %q missing (model %s): %w", sl.name, m, tensor.ErrShape)
		}
		if err := h.check("load state dict: tensor " + strconv.Quote(sl.name)); err != nil {
			return err
		}
		if !h.Shape.Equal(sl.shape) {
			return fmt.Errorf("load state dict: tensor %q has shape %v, expected %v: %w", sl.name, h.Shape, sl.shape, tensor.ErrShape)
		}
		if _, isInt := h.Data.([]int64); isInt != (sl.count != nil) {
			want := "float32 or float64"
			if sl.count != nil {
				want = "int64"
			}
			return fmt.Errorf("load state dict: tensor %q holds %T, expected %s: %w", sl.name, h.Data, want, tensor.ErrDType)
		}
	}
	var extra []string
	for name := range sd {
		if !known[name] {
			extra = append(extra, strconv.Quote(name))
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		return fmt.Errorf("load state dict: unexpected tensor %s (model %s): %w", strings.Join(extra, ", "), m, tensor.ErrShape)
	}
	for _, sl := range slots {
		if sl.count != nil {
			*sl.count = sd[sl.name].Data.([]int64)[0]
			continue
		}
		if err := sl.set(sd[sl.name].Data); err != nil {
			return fmt.Errorf("load state dict: %w", err)
		}
	}
	return nil
}

// SaveSafetensors writes the parameters and buffers to path in the
// safetensors format, named and laid out like PyTorch's nn.Sequential
// state_dict, in the model's dtype (F32 or F64; num_batches_tracked as I64). The metadata holds "format": "pt", the model spec
// (MetaSpec) and the input shape (MetaInput), which LoadModel reads. The write
// is atomic. Errors: ErrNotBuilt, the backend's Download errors and file
// errors naming path.
func (m *Sequential) SaveSafetensors(path string) error {
	sd, err := m.StateDict()
	if err != nil {
		return err
	}
	in := make([]string, len(m.shapes[0]))
	for i, d := range m.shapes[0] {
		in[i] = strconv.Itoa(d)
	}
	return WriteSafetensors(path, sd, map[string]string{"format": "pt", MetaSpec: m.String(), MetaInput: strings.Join(in, ",")})
}

// LoadSafetensors reads the weights at path into the built model (see
// LoadStateDict for the checks). A file written by PyTorch from an
// equivalent nn.Sequential loads as well.
func (m *Sequential) LoadSafetensors(path string) error {
	if err := m.ready("load " + path); err != nil {
		return err
	}
	sd, _, err := ReadSafetensors(path)
	if err != nil {
		return err
	}
	if err := m.LoadStateDict(sd); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// paramShapes returns the names and shapes of the parameters (and buffers)
// layer l will have once built, in state_dict order, without allocating them.
func paramShapes(l Layer) []namedShape {
	var w tensor.Shape
	var out int
	var cfg config
	switch l := l.(type) {
	case *convLayer:
		if l.err != nil || l.cfg.groups < 1 {
			return nil // Build reports the error
		}
		w, out, cfg = l.weightShape(), l.out, l.cfg
	case *denseLayer:
		w, out, cfg = tensor.Shape{l.out, l.in}, l.out, l.cfg
	case interface{ stateShapes() []namedShape }:
		return l.stateShapes()
	default:
		return nil
	}
	ps := []namedShape{{"weight", w}}
	if !cfg.noBias {
		ps = append(ps, namedShape{"bias", tensor.Shape{out}})
	}
	return ps
}

// namedShape is a parameter's name and shape.
type namedShape struct {
	name  string
	shape tensor.Shape
}

// LoadModel rebuilds a model saved by SaveSafetensors: it parses the spec and
// input shape from the metadata, builds the model on b (in the file's dtype
// when b supports it, else b's default) and loads the weights. A file without
// that metadata (one written by PyTorch) gives an ErrFormat error: build the
// model yourself and use LoadSafetensors.
func LoadModel(path string, b tensor.Backend) (*Sequential, error) {
	sd, meta, err := ReadSafetensors(path)
	if err != nil {
		return nil, err
	}
	spec, inText := meta[MetaSpec], meta[MetaInput]
	if spec == "" || inText == "" {
		return nil, fmt.Errorf("%s: no %q and %q metadata, expected a file saved by vkcnn: %w", path, MetaSpec, MetaInput, ErrFormat)
	}
	m, err := Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var in tensor.Shape
	for _, s := range strings.Split(inText, ",") {
		d, err := parseInt(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%s: input shape %q: %v: %w", path, inText, err, ErrFormat)
		}
		in = append(in, d)
	}
	// Check the file against the parameters the spec implies before Build
	// allocates them, so that a small file cannot make it allocate much.
	dt := tensor.DType(0)
	for i, l := range m.layers {
		for _, ns := range paramShapes(l) {
			key, shape := fmt.Sprintf("%d.%s", i, ns.name), ns.shape
			h, ok := sd[key]
			if !ok {
				return nil, fmt.Errorf("%s: tensor %q missing, expected %v for layer %d (%s): %w", path, key, shape, i, l.Kind(), ErrFormat)
			}
			if !tensor.Shape(h.Shape).Equal(shape) {
				return nil, fmt.Errorf("%s: tensor %q has shape %v, expected %v for layer %d (%s): %w", path, key, h.Shape, shape, i, l.Kind(), ErrFormat)
			}
			if h.DType() == 0 {
				continue // an integer buffer
			}
			if dt == 0 {
				dt = h.DType()
			} else if h.DType() != dt {
				return nil, fmt.Errorf("%s: tensor %q is %v but others are %v, expected one dtype: %w", path, key, h.DType(), dt, ErrFormat)
			}
		}
	}
	if dt == 0 { // only layers without declared shapes (registered ones): any float tensor
		for _, k := range slices.Sorted(maps.Keys(sd)) {
			if dt = sd[k].DType(); dt != 0 {
				break
			}
		}
	}
	if dt != 0 && b != nil && b.Caps().Supports(dt) {
		err = m.BuildDType(b, dt, in, 0)
	} else {
		err = m.Build(b, in, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := m.LoadStateDict(sd); err != nil {
		m.Free()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}
