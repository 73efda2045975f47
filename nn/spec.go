package nn

import (
	"fmt"
	"maps"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Parse turns a one-line model spec such as
// "conv(1,8,3,p1) relu maxpool(2) flatten dense(1568,10)" into an unbuilt
// Sequential; the grammar is in the package documentation. Errors wrap
// ErrFormat and name the layer (position and text) and what was expected.
func Parse(spec string) (*Sequential, error) {
	var layers []Layer
	rest := strings.TrimSpace(spec)
	for rest != "" {
		name := rest[:strings.IndexFunc(rest+" ", func(r rune) bool { return !isNameRune(r) })]
		if name == "" {
			return nil, specErr(len(layers), rest, "a layer name")
		}
		rest = rest[len(name):]
		text, args, hasArgs := name, []string(nil), false
		if strings.HasPrefix(rest, "[") {
			end := closing(rest)
			if end < 0 {
				return nil, specErr(len(layers), name+rest, "a closing bracket")
			}
			text = name + rest[:end+1]
			if strings.ToLower(name) != "residual" {
				return nil, specErr(len(layers), text, "brackets only after residual")
			}
			inner := rest[1:end]
			rest = rest[end+1:]
			if r, _ := utf8.DecodeRuneInString(rest); rest != "" && !unicode.IsSpace(r) {
				return nil, specErr(len(layers), text, "white space between layers")
			}
			rest = strings.TrimSpace(rest)
			l, err := parseResidual(inner)
			if err != nil {
				return nil, fmt.Errorf("model spec: layer %d %q: %v: %w", len(layers), text, err, ErrFormat)
			}
			layers = append(layers, l)
			continue
		}
		if strings.HasPrefix(rest, "(") {
			end := strings.IndexByte(rest, ')')
			if end < 0 {
				return nil, specErr(len(layers), name+rest, "a closing parenthesis")
			}
			text, hasArgs = name+rest[:end+1], true
			for _, a := range strings.Split(rest[1:end], ",") {
				args = append(args, strings.TrimSpace(a))
			}
			rest = rest[end+1:]
		}
		if r, _ := utf8.DecodeRuneInString(rest); rest != "" && !unicode.IsSpace(r) {
			return nil, specErr(len(layers), text, "white space between layers")
		}
		rest = strings.TrimSpace(rest)
		l, err := parseLayer(strings.ToLower(name), args, hasArgs)
		if err != nil {
			return nil, fmt.Errorf("model spec: layer %d %q: %v: %w", len(layers), text, err, ErrFormat)
		}
		layers = append(layers, l)
	}
	if len(layers) == 0 {
		return nil, fmt.Errorf("model spec is empty, expected layers such as \"conv(1,8,3) relu\": %w", ErrFormat)
	}
	return NewSequential(layers...), nil
}

// closing returns the index of the bracket that closes the one s starts
// with, or -1.
func closing(s string) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

func isNameRune(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

func specErr(i int, text, want string) error {
	return fmt.Errorf("model spec: layer %d %q: expected %s: %w", i, text, want, ErrFormat)
}

// windowTags are the tagged sizes of convolution and pooling: stride, padding.
var windowTags = map[string]func([2]int) Option{
	"s": func(v [2]int) Option { return StrideHW(v[0], v[1]) },
	"p": func(v [2]int) Option { return PadHW(v[0], v[1]) },
}

// parseLayer builds one layer from its name and arguments.
func parseLayer(name string, args []string, hasArgs bool) (Layer, error) {
	simple := map[string]func() Layer{"gap": GlobalAvgPool2D, "flatten": Flatten, "relu": ReLU,
		"sigmoid": Sigmoid, "tanh": Tanh, "softmax": Softmax, "silu": SiLU}
	if f, ok := simple[name]; ok {
		if hasArgs {
			return nil, fmt.Errorf("%s takes no arguments", name)
		}
		return f(), nil
	}
	switch name {
	case "batchnorm2d", "batchnorm1d":
		if len(args) != 1 {
			return nil, fmt.Errorf("%s needs the channel count", name)
		}
		c, err := parseInt(args[0])
		if err != nil {
			return nil, err
		}
		if name == "batchnorm2d" {
			return BatchNorm2D(c), nil
		}
		return BatchNorm1D(c), nil
	case "leakyrelu":
		if !hasArgs {
			return LeakyReLU(DefaultLeakySlope), nil
		}
		if len(args) != 1 {
			return nil, fmt.Errorf("leakyrelu takes one slope")
		}
		v, err := strconv.ParseFloat(args[0], 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("leakyrelu slope %q, expected a finite number", args[0])
		}
		return LeakyReLU(v), nil
	case "conv":
		if len(args) < 3 {
			return nil, fmt.Errorf("conv needs in, out and kernel size, got %d arguments", len(args))
		}
		in, err1 := parseInt(args[0])
		out, err2 := parseInt(args[1])
		k, err3 := parseSize(args[2])
		if err := firstErr(err1, err2, err3); err != nil {
			return nil, err
		}
		tags := map[string]func([2]int) Option{
			"d": func(v [2]int) Option { return DilationHW(v[0], v[1]) },
			"g": func(v [2]int) Option { return Groups(v[0]) },
		}
		maps.Copy(tags, windowTags)
		opts, err := parseOpts(args[3:], tags, map[string]Option{"nobias": NoBias()})
		if err != nil {
			return nil, err
		}
		return Conv2D(in, out, k[0], append([]Option{KernelHW(k[0], k[1])}, opts...)...), nil
	case "maxpool", "avgpool":
		if len(args) < 1 || args[0] == "" {
			return nil, fmt.Errorf("%s needs a window size", name)
		}
		k, err := parseSize(args[0])
		if err != nil {
			return nil, err
		}
		flags := map[string]Option{}
		if name == "avgpool" {
			flags["excludepad"] = ExcludePad()
		}
		opts, err := parseOpts(args[1:], windowTags, flags)
		if err != nil {
			return nil, err
		}
		opts = append([]Option{KernelHW(k[0], k[1])}, opts...)
		if name == "maxpool" {
			return MaxPool2D(k[0], opts...), nil
		}
		return AvgPool2D(k[0], opts...), nil
	case "dense":
		if len(args) < 2 || len(args) > 3 {
			return nil, fmt.Errorf("dense needs in and out (and optionally nobias), got %d arguments", len(args))
		}
		in, err1 := parseInt(args[0])
		out, err2 := parseInt(args[1])
		if err := firstErr(err1, err2); err != nil {
			return nil, err
		}
		opts, err := parseOpts(args[2:], nil, map[string]Option{"nobias": NoBias()})
		if err != nil {
			return nil, err
		}
		return Dense(in, out, opts...), nil
	case "reshape":
		if len(args) == 0 || args[0] == "" {
			return nil, fmt.Errorf("reshape needs dimensions")
		}
		dims := make([]int, len(args))
		for i, a := range args {
			d, err := strconv.Atoi(a)
			if err != nil {
				return nil, fmt.Errorf("dimension %q is not an integer", a)
			}
			dims[i] = d
		}
		return Reshape(dims...), nil
	case "dropout":
		if len(args) != 1 {
			return nil, fmt.Errorf("dropout needs one rate")
		}
		r, err := strconv.ParseFloat(args[0], 64)
		if err != nil || !(r >= 0 && r < 1) {
			return nil, fmt.Errorf("dropout rate %q, expected a number in [0, 1)", args[0])
		}
		return Dropout(r), nil
	}
	if name == "residual" {
		return nil, fmt.Errorf("residual needs its layers in brackets: residual[body] or residual[body | shortcut]")
	}
	return parseRegistered(name, args, hasArgs)
}

// parseOpts parses tagged sizes ("s2", "p1x0") and flags ("nobias").
func parseOpts(args []string, tagged map[string]func([2]int) Option, flags map[string]Option) ([]Option, error) {
	var opts []Option
	seen := map[string]bool{}
	for _, a := range args {
		key := strings.ToLower(a)
		if o, ok := flags[key]; ok {
			opts = append(opts, o)
		} else if f, ok := tagged[key[:min(1, len(key))]]; ok && len(key) > 1 {
			v, err := parseSize(key[1:])
			if err != nil {
				return nil, fmt.Errorf("option %q: %v", a, err)
			}
			if key[0] == 'g' && strings.Contains(key, "x") {
				return nil, fmt.Errorf("option %q: groups is one number", a)
			}
			opts = append(opts, f(v))
			key = key[:1]
		} else {
			return nil, fmt.Errorf("option %q unknown", a)
		}
		if seen[key] {
			return nil, fmt.Errorf("option %q given twice", a)
		}
		seen[key] = true
	}
	return opts, nil
}

// parseSize parses "3" as [3 3] and "3x5" as [3 5].
func parseSize(s string) ([2]int, error) {
	h, w, rect := strings.Cut(strings.ToLower(s), "x")
	a, err := parseInt(h)
	if err != nil || !rect {
		return [2]int{a, a}, err
	}
	b, err := parseInt(w)
	return [2]int{a, b}, err
}

// parseInt parses a non-negative decimal integer.
func parseInt(s string) (int, error) {
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 || strings.HasPrefix(s, "+") {
		return 0, fmt.Errorf("%q is not a non-negative integer", s)
	}
	return v, nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
