package nn

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/vkcnn/vkcnn/internal/atomicfile"

	"github.com/vkcnn/vkcnn/tensor"
)

// The NumPy .npy format: the magic "\x93NUMPY", a major and a minor version
// byte, the header length (2 bytes little-endian in version 1.0, 4 bytes in
// 2.0), an ASCII Python dict literal {'descr': '<f4', 'fortran_order': False,
// 'shape': (2, 3), } padded with spaces and ending in '\n', then the data.

const (
	npyMagic = "\x93NUMPY"
	// maxNpyHeader bounds the header dict; NumPy itself refuses headers over
	// 10000 bytes unless told otherwise.
	maxNpyHeader = 1 << 16
	// maxNpyElements bounds the element count, as tensor shapes do.
	maxNpyElements = 1 << 40
)

// ReadNpy reads a NumPy .npy array of float32 ('<f4') or float64 ('<f8')
// values in C order, format version 1.0 or 2.0. Memory is allocated as the data
// arrives, so a header that promises more data than the stream holds costs
// no more than the stream. Errors wrap ErrFormat and say what was found and
// what was expected (big-endian data, Fortran order, other dtypes and versions
// are refused).
func ReadNpy(r io.Reader) (HostTensor, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("npy: "+format+": %w", append(args, ErrFormat)...)
	}
	pre := make([]byte, 8)
	if _, err := io.ReadFull(r, pre); err != nil {
		return HostTensor{}, bad("reading the magic: %v", err)
	}
	if string(pre[:6]) != npyMagic {
		return HostTensor{}, bad("magic %q, expected \"\\x93NUMPY\"", pre[:6])
	}
	var n int
	switch major, minor := pre[6], pre[7]; {
	case major == 1 && minor == 0:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return HostTensor{}, bad("reading the header length: %v", err)
		}
		n = int(binary.LittleEndian.Uint16(b[:]))
	case major == 2 && minor == 0:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return HostTensor{}, bad("reading the header length: %v", err)
		}
		n = int(binary.LittleEndian.Uint32(b[:]))
	default:
		return HostTensor{}, bad("version %d.%d, expected 1.0 or 2.0", major, minor)
	}
	if n > maxNpyHeader {
		return HostTensor{}, bad("header of %d bytes, expected at most %d", n, maxNpyHeader)
	}
	header, err := readUpTo(r, n)
	if err != nil || len(header) != n {
		return HostTensor{}, bad("header truncated: %d of %d bytes", len(header), n)
	}
	descr, fortran, shape, err := parseNpyHeader(string(header))
	if err != nil {
		return HostTensor{}, bad("header %q: %v", strings.TrimSpace(string(header)), err)
	}
	var dt tensor.DType
	switch descr {
	case "<f4":
		dt = tensor.Float32
	case "<f8":
		dt = tensor.Float64
	case ">f4", ">f8":
		return HostTensor{}, bad("dtype %q is big-endian, expected little-endian '<f4' or '<f8'", descr)
	default:
		return HostTensor{}, bad("dtype %q unsupported, expected '<f4' (float32) or '<f8' (float64)", descr)
	}
	if fortran {
		return HostTensor{}, bad("array in Fortran order, expected C order (fortran_order False)")
	}
	count := 1
	for _, d := range shape {
		if d > 0 && count > maxNpyElements/d {
			return HostTensor{}, bad("shape %v has more than 2^40 elements", shape)
		}
		count *= d
	}
	want := count * dt.Size()
	data, err := readUpTo(r, want)
	if err != nil {
		return HostTensor{}, bad("reading the data: %v", err)
	}
	if len(data) != want {
		return HostTensor{}, bad("data truncated: %d bytes, expected %d for %s %v", len(data), want, descr, shape)
	}
	return HostTensor{Shape: shape, Data: decodeLE(data, dt)}, nil
}

// readUpTo reads at most n bytes, growing its buffer as data arrives rather
// than allocating n up front.
func readUpTo(r io.Reader, n int) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r, int64(n)))
}

// parseNpyHeader parses the header dict, which must hold exactly the keys
// descr (a string), fortran_order (True or False) and shape (a tuple of
// non-negative integers).
func parseNpyHeader(h string) (descr string, fortran bool, shape tensor.Shape, err error) {
	p := &pyLit{s: h}
	if !p.eat('{') {
		return "", false, nil, fmt.Errorf("expected a dict starting with '{'")
	}
	seen := map[string]bool{}
	for !p.eat('}') {
		key, err := p.str()
		if err != nil {
			return "", false, nil, fmt.Errorf("key: %v", err)
		}
		if seen[key] {
			return "", false, nil, fmt.Errorf("key %q given twice", key)
		}
		seen[key] = true
		if !p.eat(':') {
			return "", false, nil, fmt.Errorf("expected ':' after key %q", key)
		}
		switch key {
		case "descr":
			descr, err = p.str()
		case "fortran_order":
			fortran, err = p.boolean()
		case "shape":
			shape, err = p.tuple()
		default:
			err = fmt.Errorf("unexpected key, expected descr, fortran_order and shape")
		}
		if err != nil {
			return "", false, nil, fmt.Errorf("%s: %v", key, err)
		}
		if !p.eat(',') && !p.peek('}') {
			return "", false, nil, fmt.Errorf("expected ',' or '}' after %s", key)
		}
	}
	for _, k := range []string{"descr", "fortran_order", "shape"} {
		if !seen[k] {
			return "", false, nil, fmt.Errorf("key %q missing", k)
		}
	}
	if strings.TrimSpace(p.s[p.i:]) != "" {
		return "", false, nil, fmt.Errorf("text after the dict")
	}
	return descr, fortran, shape, nil
}

// pyLit scans the subset of Python literal syntax .npy headers use.
type pyLit struct {
	s string
	i int
}

func (p *pyLit) skip() {
	for p.i < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.i]) >= 0 {
		p.i++
	}
}

// peek reports whether the next non-space byte is c.
func (p *pyLit) peek(c byte) bool {
	p.skip()
	return p.i < len(p.s) && p.s[p.i] == c
}

// eat consumes c if it comes next.
func (p *pyLit) eat(c byte) bool {
	if p.peek(c) {
		p.i++
		return true
	}
	return false
}

// str reads a quoted string without escapes.
func (p *pyLit) str() (string, error) {
	p.skip()
	if p.i >= len(p.s) || (p.s[p.i] != '\'' && p.s[p.i] != '"') {
		return "", fmt.Errorf("expected a quoted string")
	}
	q := p.s[p.i]
	end := strings.IndexByte(p.s[p.i+1:], q)
	if end < 0 {
		return "", fmt.Errorf("unterminated string")
	}
	v := p.s[p.i+1 : p.i+1+end]
	p.i += end + 2
	return v, nil
}

// boolean reads True or False.
func (p *pyLit) boolean() (bool, error) {
	p.skip()
	for _, w := range []string{"True", "False"} {
		if strings.HasPrefix(p.s[p.i:], w) {
			p.i += len(w)
			return w == "True", nil
		}
	}
	return false, fmt.Errorf("expected True or False")
}

// tuple reads a tuple of non-negative integers such as (), (3,) or (2, 3).
func (p *pyLit) tuple() (tensor.Shape, error) {
	if !p.eat('(') {
		return nil, fmt.Errorf("expected a tuple")
	}
	shape := tensor.Shape{}
	for !p.eat(')') {
		p.skip()
		j := p.i
		for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
			j++
		}
		d, err := strconv.Atoi(p.s[p.i:j])
		if err != nil {
			return nil, fmt.Errorf("expected a non-negative integer at %q", p.s[p.i:min(p.i+8, len(p.s))])
		}
		p.i = j
		if p.i < len(p.s) && p.s[p.i] == 'L' { // Python 2 long
			p.i++
		}
		shape = append(shape, d)
		if !p.eat(',') && !p.peek(')') {
			return nil, fmt.Errorf("expected ',' or ')' in the tuple")
		}
	}
	return shape, nil
}

// WriteNpy writes h as a NumPy .npy array, format version 1.0, C order,
// little-endian ('<f4' for float32, '<f8' for float64). Errors: tensor.ErrShape
// or ErrDType for data that does not match h.Shape, and w's write errors.
func WriteNpy(w io.Writer, h HostTensor) error {
	if err := h.check("npy"); err != nil {
		return err
	}
	dims := make([]string, len(h.Shape))
	for i, d := range h.Shape {
		dims[i] = strconv.Itoa(d)
	}
	tuple := "(" + strings.Join(dims, ", ") + ")"
	if len(dims) == 1 {
		tuple = "(" + dims[0] + ",)"
	}
	descr := "<f4"
	if h.DType() == tensor.Float64 {
		descr = "<f8"
	}
	dict := "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + tuple + ", }"
	// Pad with spaces so that the data starts at a multiple of 64 bytes.
	total := len(npyMagic) + 4 + len(dict) + 1
	dict += strings.Repeat(" ", (64-total%64)%64) + "\n"
	if len(dict) > 0xffff {
		return fmt.Errorf("npy: header of %d bytes does not fit version 1.0: %w", len(dict), tensor.ErrShape)
	}
	head := append([]byte(npyMagic), 1, 0)
	head = binary.LittleEndian.AppendUint16(head, uint16(len(dict)))
	head = append(head, dict...)
	if _, err := w.Write(head); err != nil {
		return err
	}
	_, err := w.Write(encodeLE(h.Data))
	return err
}

// SaveNpy writes h to the file path as a .npy array (see WriteNpy),
// atomically: a temporary file in the same directory, then a rename. Errors
// as for WriteNpy, and file errors naming path.
func SaveNpy(path string, h HostTensor) error {
	return atomicfile.Write(path, func(w io.Writer) error { return WriteNpy(w, h) })
}

// LoadNpy reads the .npy file at path (see ReadNpy): ErrFormat errors for a
// malformed file, fs.ErrNotExist and other file errors naming path.
func LoadNpy(path string) (HostTensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return HostTensor{}, err
	}
	defer f.Close()
	h, err := ReadNpy(bufio.NewReader(f))
	if err != nil {
		return HostTensor{}, fmt.Errorf("%s: %w", path, err)
	}
	return h, nil
}
