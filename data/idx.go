package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/vkcnn/vkcnn/internal/atomicfile"

	"github.com/vkcnn/vkcnn/tensor"
)

// ErrFormat reports a file that is not valid IDX data: a bad magic number, a
// truncated body, trailing bytes or an unsupported element type.
var ErrFormat = errors.New("invalid IDX data")

// The IDX magic numbers of MNIST: two zero bytes, the element type 0x08
// (unsigned byte) and the number of dimensions.
const (
	ImagesMagic = 0x00000803 // images: [N, rows, cols] unsigned bytes
	LabelsMagic = 0x00000801 // labels: [N] unsigned bytes
)

// idxUbyte is the IDX type code of unsigned bytes, the only one supported.
const idxUbyte = 0x08

// maxIDXBytes bounds the body of one IDX file (4 GiB), far above any dataset
// this package is meant for, so that sizes never overflow an int.
const maxIDXBytes = 1 << 32

var gzipMagic = []byte{0x1f, 0x8b}

// ReadIDX reads an IDX array of unsigned bytes (type code 0x08) from r, raw or
// gzip-compressed, and returns its dimensions and its elements in row-major
// order. Dimensions may be 0. It returns an ErrFormat error for a bad magic
// number, an unsupported element type, a header or body shorter than the
// header promises or bytes after the body, and an ErrShape error when the
// dimensions multiply to more than 4 GiB. It never allocates more than the
// bytes it actually read justify.
func ReadIDX(r io.Reader) (dims []int, body []byte, err error) {
	br := bufio.NewReader(r)
	if head, _ := br.Peek(2); bytes.Equal(head, gzipMagic) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("idx: gzip stream: %v: %w", err, ErrFormat)
		}
		defer zr.Close()
		return readIDX(zr)
	}
	return readIDX(br)
}

func readIDX(r io.Reader) ([]int, []byte, error) {
	var magic [4]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return nil, nil, fmt.Errorf("idx: reading the 4-byte magic number: %v: %w", readErr(err), ErrFormat)
	}
	if magic[0] != 0 || magic[1] != 0 || magic[3] == 0 {
		return nil, nil, fmt.Errorf("idx: magic number 0x%08x, expected 0x0000TTDD (0x%08x for images, 0x%08x for labels): %w",
			binary.BigEndian.Uint32(magic[:]), ImagesMagic, LabelsMagic, ErrFormat)
	}
	if magic[2] != idxUbyte {
		return nil, nil, fmt.Errorf("idx: element type 0x%02x, expected 0x%02x (unsigned byte): %w", magic[2], idxUbyte, ErrFormat)
	}
	rank := int(magic[3])
	head := make([]byte, 4*rank) // at most 1 KiB
	if _, err := io.ReadFull(r, head); err != nil {
		return nil, nil, fmt.Errorf("idx: reading %d dimensions: %v: %w", rank, readErr(err), ErrFormat)
	}
	dims := make([]int, rank)
	total := uint64(1)
	for i := range dims {
		d := uint64(binary.BigEndian.Uint32(head[4*i:]))
		dims[i] = int(d)
		if total *= d; total > maxIDXBytes || total > math.MaxInt {
			return nil, nil, fmt.Errorf("idx: dimensions %v hold more than %d bytes: %w", header(head, i+1), uint64(maxIDXBytes), tensor.ErrShape)
		}
	}
	// ReadAll grows its buffer with the data that arrives, so a header that
	// promises more than the input holds costs no large allocation.
	body, err := io.ReadAll(io.LimitReader(r, int64(total)+1))
	if errors.Is(err, io.ErrUnexpectedEOF) { // a compressed stream cut short
		return nil, nil, fmt.Errorf("idx: truncated: dimensions %v need %d bytes, the stream ends after %d: %w", dims, total, len(body), ErrFormat)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("idx: reading the body of %v: %v: %w", dims, err, ErrFormat)
	}
	switch {
	case uint64(len(body)) < total:
		return nil, nil, fmt.Errorf("idx: truncated: dimensions %v need %d bytes, the file has %d: %w", dims, total, len(body), ErrFormat)
	case uint64(len(body)) > total:
		return nil, nil, fmt.Errorf("idx: trailing bytes after the %d bytes of dimensions %v: %w", total, dims, ErrFormat)
	}
	return dims, body, nil
}

// header decodes the first n big-endian dimensions of head for messages.
func header(head []byte, n int) []uint32 {
	d := make([]uint32, n)
	for i := range d {
		d[i] = binary.BigEndian.Uint32(head[4*i:])
	}
	return d
}

func readErr(err error) error {
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		return errors.New("file too short")
	}
	return err
}

// ReadImages reads an IDX image file (magic 0x00000803, raw or gzip) from r
// and returns its pixels divided by 255, so in [0, 1], as one flat slice of
// N·rows·cols values (image after image, row-major), with shape [N, rows,
// cols]. Errors are those of ReadIDX, plus an ErrFormat error when the file
// is not a 3-D array and an ErrShape error when rows or cols is 0.
func ReadImages(r io.Reader) ([]float32, tensor.Shape, error) {
	dims, body, err := ReadIDX(r)
	if err != nil {
		return nil, nil, err
	}
	return idxImages(dims, body)
}

// idxImages checks that an IDX array holds images and scales them to [0, 1]
// (see ReadImages).
func idxImages(dims []int, body []byte) ([]float32, tensor.Shape, error) {
	if len(dims) != 3 {
		return nil, nil, fmt.Errorf("idx images: magic number 0x%08x (%d dimensions), expected 0x%08x ([N rows cols]): %w",
			0x800+len(dims), len(dims), ImagesMagic, ErrFormat)
	}
	if dims[1] < 1 || dims[2] < 1 {
		return nil, nil, fmt.Errorf("idx images: image size %d×%d, expected at least 1×1: %w", dims[1], dims[2], tensor.ErrShape)
	}
	pix := make([]float32, len(body))
	for i, b := range body {
		pix[i] = float32(b) / 255
	}
	return pix, tensor.Shape(dims), nil
}

// ReadLabels reads an IDX label file (magic 0x00000801, raw or gzip) from r
// and returns one byte per label. Errors are those of ReadIDX, plus an
// ErrFormat error when the file is not a 1-D array.
func ReadLabels(r io.Reader) ([]uint8, error) {
	dims, body, err := ReadIDX(r)
	if err != nil {
		return nil, err
	}
	return idxLabels(dims, body)
}

// idxLabels checks that an IDX array holds labels (see ReadLabels).
func idxLabels(dims []int, body []byte) ([]uint8, error) {
	if len(dims) != 1 {
		return nil, fmt.Errorf("idx labels: magic number 0x%08x (%d dimensions), expected 0x%08x ([N]): %w",
			0x800+len(dims), len(dims), LabelsMagic, ErrFormat)
	}
	return body, nil
}

// WriteIDX writes body as an IDX array of unsigned bytes with the given
// dimensions to path, gzip-compressed when path ends in ".gz". The file
// appears complete or not at all: it is written to a temporary name in the
// same folder and renamed. It returns an ErrShape error when there are no
// dimensions or more than 255, a dimension is negative or above 2^32−1, or
// the dimensions do not multiply to len(body) (at most 4 GiB), and the file system's error
// when writing fails.
func WriteIDX(path string, dims []int, body []byte) error {
	if len(dims) < 1 || len(dims) > 255 {
		return fmt.Errorf("write idx %s: %d dimensions, expected 1 to 255: %w", path, len(dims), tensor.ErrShape)
	}
	want := uint64(1)
	for i, d := range dims {
		if d < 0 || uint64(d) > math.MaxUint32 {
			return fmt.Errorf("write idx %s: dimension %d is %d, expected 0 to 2^32−1: %w", path, i, d, tensor.ErrShape)
		}
		want = min(want*uint64(d), maxIDXBytes+1) // capped: never overflows
	}
	if want != uint64(len(body)) {
		return fmt.Errorf("write idx %s: dimensions %v need %d bytes, got %d: %w", path, dims, want, len(body), tensor.ErrShape)
	}
	head := idxHeader(dims)
	return atomicfile.Write(path, func(w io.Writer) error {
		if !strings.HasSuffix(path, ".gz") {
			if _, err := w.Write(head); err != nil {
				return err
			}
			_, err := w.Write(body)
			return err
		}
		zw := gzip.NewWriter(w)
		if _, err := zw.Write(head); err != nil {
			return err
		}
		if _, err := zw.Write(body); err != nil {
			return err
		}
		return zw.Close()
	})
}

// idxHeader encodes the IDX header of an unsigned-byte array with the given
// dimensions (each in [0, 2^32−1], 1 to 255 of them).
func idxHeader(dims []int) []byte {
	head := make([]byte, 4+4*len(dims))
	head[2], head[3] = idxUbyte, byte(len(dims))
	for i, d := range dims {
		binary.BigEndian.PutUint32(head[4+4*i:], uint32(d))
	}
	return head
}

// contentSum returns the SHA-256 of the uncompressed IDX bytes that dims and
// body come from. ReadIDX accepts only the canonical layout (header, then
// exactly the body), so this is the sum of the raw file, or of a gzip file's
// content, whichever way it was stored.
func contentSum(dims []int, body []byte) [sha256.Size]byte {
	h := sha256.New()
	h.Write(idxHeader(dims))
	h.Write(body)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}
