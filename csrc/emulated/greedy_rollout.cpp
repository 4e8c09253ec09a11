// Emulated CUDA roll-out decode loops: the CUDA path of cuda/greedy_rollout.cu with the emulated
// launcher, on CPU tensors (torch.ops.searnn_emulated.greedy_rollout).
#include <torch/library.h>

#include "../launches/greedy_rollout_kernels.h"
#include "launcher.h"

namespace searnn {
namespace {

std::tuple<at::Tensor, at::Tensor> greedy_rollout_emulated(
    const at::Tensor& cell_hidden, const std::optional<at::Tensor>& cell_feed,
    const at::Tensor& row_cell, const at::Tensor& row_batch, const at::Tensor& first_tokens,
    const at::Tensor& budgets, const std::optional<at::Tensor>& memory_values,
    const std::optional<at::Tensor>& memory_keys, const at::Tensor& memory_lengths,
    at::TensorList weights, int64_t eos_id, c10::string_view cell) {
  const RolloutInputs inputs = check_rollout_inputs(
      cell_hidden, cell_feed, row_cell, row_batch, first_tokens, budgets, memory_values,
      memory_keys, memory_lengths, weights.vec(), eos_id, cell);
  return visit_cell(inputs.cell, [&](auto kind) {
    return greedy_rollout_loop<decltype(kind), GpuKernels<EmulatedLauncher>>(inputs);
  });
}

std::tuple<at::Tensor, at::Tensor> transformer_rollout_emulated(
    const at::Tensor& prefix_keys, const at::Tensor& prefix_values, const at::Tensor& row_batch,
    const at::Tensor& row_prefix, const at::Tensor& first_tokens, const at::Tensor& budgets,
    const at::Tensor& memory_keys, const at::Tensor& memory_values,
    const at::Tensor& memory_lengths, at::TensorList weights, int64_t heads, int64_t eos_id) {
  const TransformerRolloutInputs inputs = check_transformer_inputs(
      prefix_keys, prefix_values, row_batch, row_prefix, first_tokens, budgets, memory_keys,
      memory_values, memory_lengths, weights.vec(), heads, eos_id);
  return transformer_rollout_loop<GpuKernels<EmulatedLauncher>>(inputs);
}

}  // namespace

TORCH_LIBRARY_IMPL(searnn_emulated, CPU, m) {
  m.impl("greedy_rollout", &greedy_rollout_emulated);
  m.impl("transformer_rollout", &transformer_rollout_emulated);
}

}  // namespace searnn
