package nn

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/vkcnn/vkcnn/tensor"
)

// LayerConstructor makes a layer of a registered kind from its arguments in a
// model spec: args is nil for a layer written without parentheses ("mylayer")
// and holds the comma-separated arguments, trimmed, for one written with them
// ("mylayer(3, 0.5)" gives ["3", "0.5"]). It returns an error saying what it
// expected for arguments it cannot use; Parse wraps it in ErrFormat and names
// the layer.
type LayerConstructor func(args []string) (Layer, error)

// builtinKinds are the layer names Parse knows without registration.
var builtinKinds = []string{"conv", "maxpool", "avgpool", "gap", "flatten", "reshape", "dense", "batchnorm2d",
	"batchnorm1d", "relu", "leakyrelu", "silu", "sigmoid", "tanh", "softmax", "dropout", "residual"}

var (
	registryMu sync.RWMutex
	registry   = map[string]LayerConstructor{}
)

// Register makes a user-defined layer kind known to Parse and so to LoadModel
// and to the model spec that SaveSafetensors and checkpoints store (the
// "vkcnn.spec" metadata), in the manner of image.RegisterFormat: call it
// once, typically from an init function, before parsing or loading models
// that use the kind. kind is the name the layer's Kind returns and its String
// starts with; it must be lower-case letters, digits and underscores,
// starting with a letter, and not a built-in layer name. The layer's String
// must return text that ctor turns back into an equal layer (for example
// "scale(0.5)"), and its parameters (Params) are saved and loaded like the
// built-in layers' under "<index>.<name>".
//
// Register is safe for concurrent use. It returns a tensor.ErrParam error for
// an invalid or built-in kind, a nil ctor, or a kind already registered.
func Register(kind string, ctor LayerConstructor) error {
	if err := checkKind(kind); err != nil {
		return fmt.Errorf("register layer %q: %w", kind, err)
	}
	if ctor == nil {
		return fmt.Errorf("register layer %q: nil constructor, expected a function: %w", kind, tensor.ErrParam)
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[kind]; dup {
		return fmt.Errorf("register layer %q: already registered, expected a kind registered once: %w", kind, tensor.ErrParam)
	}
	registry[kind] = ctor
	return nil
}

// RegisteredKinds returns the layer kinds added with Register, sorted.
func RegisteredKinds() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	kinds := make([]string, 0, len(registry))
	for k := range registry {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	return kinds
}

// checkKind validates a kind name for Register.
func checkKind(kind string) error {
	if kind == "" || kind[0] < 'a' || kind[0] > 'z' || strings.IndexFunc(kind, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_')
	}) >= 0 {
		return fmt.Errorf("invalid kind, expected lower-case letters, digits and underscores starting with a letter: %w", tensor.ErrParam)
	}
	if slices.Contains(builtinKinds, kind) {
		return fmt.Errorf("a built-in layer kind, expected a new name: %w", tensor.ErrParam)
	}
	return nil
}

// parseRegistered builds a layer of a registered kind, or reports that the
// kind is unknown.
func parseRegistered(name string, args []string, hasArgs bool) (Layer, error) {
	registryMu.RLock()
	ctor, ok := registry[name]
	registryMu.RUnlock()
	if !ok {
		known := strings.Join(builtinKinds[:len(builtinKinds)-1], ", ") + " or residual[…]"
		if extra := RegisteredKinds(); len(extra) > 0 {
			known += ", or a registered kind: " + strings.Join(extra, ", ")
		} else {
			known += " (or a kind added with nn.Register)"
		}
		return nil, fmt.Errorf("unknown layer, expected %s", known)
	}
	if !hasArgs {
		args = nil
	} else if args == nil {
		args = []string{}
	}
	l, err := ctor(args)
	if err != nil {
		return nil, err
	}
	if l == nil {
		return nil, fmt.Errorf("the constructor registered for %q returned no layer", name)
	}
	if l.Kind() != name {
		return nil, fmt.Errorf("the constructor registered for %q made a layer of kind %q, expected the registered kind", name, l.Kind())
	}
	return l, nil
}
