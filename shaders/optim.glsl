// optim.glsl: the optimizer update of one element, shared by optim.comp
// (one parameter per dispatch) and optim_batch.comp (many). The including
// shader declares the MODE, MOMENTUM and NESTEROV specialization constants
// and a push-constant block p with the hyperparameters below.
//
//   MODE 0 SGD:  g = grad + wd·param; with MOMENTUM v = momentum·v + g and
//                param −= lr·v (with NESTEROV param −= lr·(g + momentum·v)),
//                else param −= lr·g.
//   MODE 1 Adam: param ·= decay (1 − lr·wd for AdamW, whose wd push
//                constant is then 0; 1 for Adam); g = grad + wd·param;
//                m = β1·m + (1 − β1)·g; v = β2·v + (1 − β2)·g²;
//                param −= lr·(m/bc1)/(√(v/bc2) + eps), with the bias
//                corrections bc1 = 1 − β1^t and bc2 = 1 − β2^t from the host.
//
// Hyperparameters (push constants): lr, momentum, wd, beta1, beta2, eps, bc1,
// bc2, omb1 and omb2 (1 − β1 and 1 − β2 from the host in float64: 1 − 0.999
// loses four digits when taken from the float32 β2), decay.

// usesM and usesV say which state the mode reads and writes: the velocity
// (in m) for SGD with momentum, both moments for Adam.
const bool usesM = MODE == 1 || MOMENTUM != 0;
const bool usesV = MODE == 1;

// optimStep updates the parameter w and its state m, v (unused ones are
// ignored) from the gradient grad.
void optimStep(inout float w, float grad, inout float m, inout float v) {
    if (MODE == 0) {
        float g = grad + p.wd * w;
        if (MOMENTUM != 0) {
            float vel = p.momentum * m + g;
            m = vel;
            g = NESTEROV != 0 ? g + p.momentum * vel : vel;
        }
        w = w - p.lr * g;
        return;
    }
    w *= p.decay;
    float g = grad + p.wd * w;
    m = p.beta1 * m + p.omb1 * g;
    v = p.beta2 * v + p.omb2 * g * g;
    w = w - p.lr * (m / p.bc1) / (sqrt(v / p.bc2) + p.eps);
}
