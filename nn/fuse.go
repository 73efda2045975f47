package nn

import "github.com/vkcnn/vkcnn/tensor"

// Fused epilogues. When a conv or dense layer is followed by a ReLU and the
// backend implements the fused op (tensor.FusedConv2D, tensor.FusedLinear;
// detected by type assertion), the layer applies the ReLU in its own output
// pass and the ReLU layer's output is that same tensor, so the forward pass
// records one op less. The ReLU layer's backward still runs: its input is
// then the rectified output, which is positive exactly where the
// pre-activation was, so the gradient is unchanged. Backends without the
// fused ops (the CPU backend) run the plain layers.

// activationFuser is a layer that can apply the activation of the layer after
// it in its own output pass.
type activationFuser interface {
	// fuseActivation makes the layer apply act to its output when its
	// backend has the fused op, and reports whether it will; ActNone, or a
	// backend without the op, turns fusion off.
	fuseActivation(act tensor.Activation) bool
}

// fusible returns the activation layer l computes when a layer before it may
// absorb it, else ActNone.
func fusible(l Layer) tensor.Activation {
	if a, ok := l.(*activation); ok && a.kind == "relu" {
		return tensor.ActReLU
	}
	return tensor.ActNone
}

// fuseLayers sets up fusion for built layers and returns which layers are
// absorbed: absorbed[i] means layer i-1 applies layer i's activation and
// layer i's forward output is layer i-1's output.
func fuseLayers(layers []Layer) []bool {
	absorbed := make([]bool, len(layers))
	for i, l := range layers {
		f, ok := l.(activationFuser)
		if !ok {
			continue
		}
		act := tensor.ActNone
		if i+1 < len(layers) {
			act = fusible(layers[i+1])
		}
		if f.fuseActivation(act) {
			absorbed[i+1] = true
		}
	}
	return absorbed
}

// fusedConv returns the backend's fused convolution when act needs one.
func fusedConv(b tensor.Backend, act tensor.Activation) (tensor.FusedConv2D, bool) {
	if act == tensor.ActNone {
		return nil, false
	}
	f, ok := b.(tensor.FusedConv2D)
	return f, ok
}

// fuseActivation applies act in the convolution's output pass when the
// weight's backend implements tensor.FusedConv2D.
func (l *convLayer) fuseActivation(act tensor.Activation) bool {
	l.act = tensor.ActNone
	if l.weight == nil {
		return false
	}
	if _, ok := fusedConv(l.weight.Value.Backend(), act); !ok {
		return false
	}
	l.act = act
	return true
}

// fuseActivation applies act in the dense layer's output pass when the
// weight's backend implements tensor.FusedLinear.
func (l *denseLayer) fuseActivation(act tensor.Activation) bool {
	l.act = tensor.ActNone
	if l.weight == nil || act == tensor.ActNone {
		return false
	}
	if _, ok := l.weight.Value.Backend().(tensor.FusedLinear); !ok {
		return false
	}
	l.act = act
	return true
}

// isAbsorbed reports whether layer i's activation is applied by the layer
// before it (false for models built without fusion, such as a residual
// block's inner layers).
func (m *Sequential) isAbsorbed(i int) bool { return i < len(m.absorbed) && m.absorbed[i] }
