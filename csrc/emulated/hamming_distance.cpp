// Emulated CUDA Hamming distance: the CUDA path of cuda/hamming_distance.cu with the emulated
// launcher, on CPU tensors (torch.ops.searnn_emulated.hamming_distance).
#include <torch/library.h>

#include "../launches/hamming_distance.h"
#include "launcher.h"

namespace searnn {
namespace {

at::Tensor hamming_distance_emulated(const at::Tensor& hyp, const at::Tensor& hyp_lengths,
                                     const at::Tensor& ref, const at::Tensor& ref_lengths,
                                     const std::optional<at::Tensor>& ref_index) {
  const PairInputs inputs =
      check_pair_inputs("hamming_distance", hyp, hyp_lengths, ref, ref_lengths, ref_index);
  return hamming_distance_gpu<EmulatedLauncher>(inputs);
}

}  // namespace

TORCH_LIBRARY_IMPL(searnn_emulated, CPU, m) {
  m.impl("hamming_distance", &hamming_distance_emulated);
}

}  // namespace searnn
