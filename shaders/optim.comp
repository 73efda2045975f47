#version 450
// optim.comp: optimizer updates in place, one invocation per parameter,
// chosen by the MODE specialization constant, with PyTorch's semantics.
//
//   MODE 0 SGD:  g = grad + wd·param; with MOMENTUM v = momentum·v + g and
//                param −= lr·v (with NESTEROV param −= lr·(g + momentum·v)),
//                else param −= lr·g.
//   MODE 1 Adam: param ·= decay (1 − lr·wd for AdamW, whose wd push
//                constant is then 0; 1 for Adam); g = grad + wd·param;
//                m = β1·m + (1 − β1)·g; v = β2·v + (1 − β2)·g²;
//                param −= lr·(m/bc1)/(√(v/bc2) + eps), with the bias
//                corrections bc1 = 1 − β1^t and bc2 = 1 − β2^t from the host.
layout(local_size_x = 256) in;

layout(constant_id = 0) const uint MODE = 0;
layout(constant_id = 1) const uint MOMENTUM = 0;
layout(constant_id = 2) const uint NESTEROV = 0;

layout(std430, set = 0, binding = 0) buffer Param { float param[]; };
layout(std430, set = 0, binding = 1) readonly buffer Grad { float grad[]; };
layout(std430, set = 0, binding = 2) buffer M { float m[]; };  // SGD: the velocity
layout(std430, set = 0, binding = 3) buffer V { float v[]; };

layout(push_constant) uniform Params {
    uint n;
    float lr, momentum, wd;
    float beta1, beta2, eps;
    float bc1, bc2;
    float omb1, omb2;  // 1 − β1 and 1 − β2, from the host in float64 (1 − 0.999 loses
                       // four digits when taken from the float32 β2)
    float decay;       // Adam: the parameter's factor before the update
} p;

void main() {
    uint i = gl_GlobalInvocationID.x +
        gl_GlobalInvocationID.y * (gl_NumWorkGroups.x * 256u) +
        gl_GlobalInvocationID.z * (gl_NumWorkGroups.x * 256u * gl_NumWorkGroups.y);
    if (i >= p.n) {
        return;
    }
    float w = param[i];
    if (MODE == 0) {
        float g = grad[i] + p.wd * w;
        if (MOMENTUM != 0) {
            float vel = p.momentum * m[i] + g;
            m[i] = vel;
            g = NESTEROV != 0 ? g + p.momentum * vel : vel;
        }
        param[i] = w - p.lr * g;
        return;
    }
    w *= p.decay;
    float g = grad[i] + p.wd * w;
    float mi = p.beta1 * m[i] + p.omb1 * g;
    float vi = p.beta2 * v[i] + p.omb2 * g * g;
    m[i] = mi;
    v[i] = vi;
    param[i] = w - p.lr * (mi / p.bc1) / (sqrt(vi / p.bc2) + p.eps);
}
