// Emulated CUDA edit distance: the CUDA path of cuda/edit_distance.cu with the emulated
// launcher, on CPU tensors (torch.ops.searnn_emulated.edit_distance).
#include <torch/library.h>

#include "../launches/edit_distance.h"
#include "launcher.h"

namespace searnn {
namespace {

at::Tensor edit_distance_emulated(const at::Tensor& hyp, const at::Tensor& hyp_lengths,
                                  const at::Tensor& ref, const at::Tensor& ref_lengths,
                                  const std::optional<at::Tensor>& ref_index) {
  const PairInputs inputs =
      check_pair_inputs("edit_distance", hyp, hyp_lengths, ref, ref_lengths, ref_index);
  return edit_distance_gpu<EmulatedLauncher>(inputs);
}

}  // namespace

TORCH_LIBRARY_IMPL(searnn_emulated, CPU, m) { m.impl("edit_distance", &edit_distance_emulated); }

}  // namespace searnn
