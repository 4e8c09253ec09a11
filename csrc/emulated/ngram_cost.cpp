// Emulated CUDA BLEU and GLEU costs: the CUDA path of cuda/ngram_cost.cu with the emulated
// launcher, on CPU tensors (torch.ops.searnn_emulated.bleu_cost, gleu_cost).
#include <torch/library.h>

#include "../launches/ngram_cost.h"
#include "launcher.h"

namespace searnn {
namespace {

template <typename Cost>
at::Tensor ngram_cost_emulated(const at::Tensor& hyp, const at::Tensor& hyp_lengths,
                               const at::Tensor& ref, const at::Tensor& ref_lengths,
                               const std::optional<at::Tensor>& ref_index) {
  const PairInputs inputs =
      check_pair_inputs(Cost::kName, hyp, hyp_lengths, ref, ref_lengths, ref_index);
  return ngram_cost_gpu<Cost, EmulatedLauncher>(inputs);
}

}  // namespace

TORCH_LIBRARY_IMPL(searnn_emulated, CPU, m) {
  m.impl("bleu_cost", &ngram_cost_emulated<BleuCost>);
  m.impl("gleu_cost", &ngram_cost_emulated<GleuCost>);
}

}  // namespace searnn
