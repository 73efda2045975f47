// Package nn builds, trains, checks and stores convolutional neural networks on
// any tensor.Backend (the CPU backend, or Vulkan on a GPU).
//
// A model is a Sequential of layers, created PyTorch-style and then built for a
// per-sample input shape, which allocates and initializes the parameters on the
// backend:
//
//	m := nn.NewSequential(
//		nn.Conv2D(1, 8, 3, nn.Pad(1)), nn.ReLU(), nn.MaxPool2D(2),
//		nn.Flatten(), nn.Dense(8*14*14, 10))
//	err := m.Build(backend, tensor.Shape{1, 28, 28}, seed)
//
// Forward, Backward and the optimizers run entirely on the backend; parameters,
// gradients and activations are device tensors, allocated once per batch size
// and reused. Fit runs the whole training loop, reading back one loss value and
// one small vector of predicted classes per step.
//
// # Training
//
// Fit and Evaluate take their data as a *data.Dataset, the one dataset type
// data.Load returns (Predict and Outputs take the inputs alone, laid out as
// its Images); Fit shuffles and cuts it with data.Shuffle and data.Batches
// and fills batches with data.Gather and data.OneHot.
//
// FitConfig adds what torch.optim and friends offer around the loop: a
// learning-rate Schedule (StepLR, CosineLR with linear warmup and OneCycleLR
// per step, ExponentialLR per epoch), gradient clipping by global norm (ClipNorm), label smoothing
// for cross-entropy (LabelSmoothing), early stopping on the validation loss
// that keeps the best weights (Patience), and checkpoints: Fit writes the
// whole training state (TrainState: parameters and buffers, optimizer
// moments and step count, schedule position, epoch, shuffling and dropout
// state, history) atomically after every epoch, and continues from one
// (ReadCheckpoint, FitConfig.Resume) so that a resumed run ends bit-identical
// to an uninterrupted one on the CPU. A loss that becomes NaN or ±Inf (or,
// with DivergeRatio, explodes past that many times the first step's) stops
// Fit with ErrDiverged before the update, naming the epoch and step.
//
// # Layers
//
// Conv2D, MaxPool2D, AvgPool2D, GlobalAvgPool2D, Flatten, Reshape, Dense,
// BatchNorm2D, BatchNorm1D (running statistics kept as buffers), ReLU,
// LeakyReLU, SiLU, Sigmoid, Tanh, Softmax, Dropout and Residual, a composite layer y = body(x)
// + shortcut(x) whose paths are layer chains (nestable). Shapes are per sample: a convolution takes
// [C, H, W], Dense takes [in]. GlobalAvgPool2D returns [C] (PyTorch's
// AdaptiveAvgPool2d(1) followed by Flatten), so a Dense layer can follow it
// directly.
//
// # Model spec
//
// A model can be written on one line, for example
//
//	conv(1,8,3,p1) relu maxpool(2) flatten dense(1568,10)
//
// Parse turns such a spec into a Sequential and Sequential.String prints it back
// in canonical form (Parse(m.String()).String() == m.String()). Layers are
// separated by white space; arguments by commas, with optional spaces. A size
// written N means N×N; NxM means height N and width M. The grammar:
//
//	spec    = layer { " " layer }
//	layer   = "conv(" in "," out "," size { "," convopt } ")"
//	        | "maxpool(" size { "," poolopt } ")"
//	        | "avgpool(" size { "," poolopt | ",excludepad" } ")"
//	        | "gap" | "flatten" | "relu" | "sigmoid" | "tanh" | "softmax"
//	        | "silu" | "leakyrelu" [ "(" slope ")" ]  default slope 0.01
//	        | "reshape(" dim { "," dim } ")"     one dim may be -1
//	        | "dense(" in "," out [ ",nobias" ] ")"
//	        | "batchnorm2d(" channels ")" | "batchnorm1d(" channels ")"
//	        | "dropout(" rate ")"                 0 ≤ rate < 1
//	        | "residual[" spec [ " | " spec ] "]"  body, optional shortcut
//	convopt = "s" size | "p" size | "d" size | "g" int | "nobias"
//	poolopt = "s" size | "p" size                 stride defaults to the window
//	size    = int | int "x" int
//
// Other layer kinds can be added with Register (as image.RegisterFormat adds
// picture formats): Parse, LoadModel and ReadCheckpoint then accept them, and
// files saved from models that use them reload.
//
// The spec describes the architecture only: initializers and frozen parameters
// are not part of it.
//
// # Files
//
// SaveSafetensors and LoadSafetensors store weights in the safetensors format
// with the names and layouts of PyTorch's nn.Sequential state_dict ("0.weight",
// "0.bias", "3.weight", …; the index is the layer's position, parameterless
// layers included; a residual block's tensors are "4.body.0.weight",
// "4.shortcut.0.weight", as for a torch module with body and shortcut
// nn.Sequential submodules; buffers such as BatchNorm's running statistics
// are saved too; convolution weights [out, in/groups, kh, kw], dense weights
// [out, in]), so weights move between vkcnn and PyTorch both ways. SaveNpy and
// LoadNpy read and write NumPy .npy arrays. Every file is written to a temporary
// name in the same directory and then renamed.
//
// # Errors
//
// Bad input returns an error naming what is wrong and what was expected. Errors
// about shapes, dtypes and parameters wrap tensor.ErrShape, tensor.ErrDType and
// tensor.ErrParam; malformed files wrap ErrFormat; using a model before Build
// returns ErrNotBuilt.
package nn
