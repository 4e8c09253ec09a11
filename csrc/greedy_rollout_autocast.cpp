// greedy_rollout under torch.autocast: its floating-point inputs are cast to the autocast dtype
// (bfloat16 on CPUs by default, float16 or bfloat16 on GPUs), as autocast casts the inputs of
// its matmul-like ops, so that the decode loop's GEMMs run in that dtype; the per-row math
// still accumulates in float. float64 inputs are left alone, as autocast leaves them.
#include <ATen/autocast_mode.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include <tuple>
#include <vector>

namespace searnn {
namespace {

using GreedyRollout = std::tuple<at::Tensor, at::Tensor>(
    const at::Tensor&, const std::optional<at::Tensor>&, const at::Tensor&, const at::Tensor&,
    const at::Tensor&, const at::Tensor&, const std::optional<at::Tensor>&,
    const std::optional<at::Tensor>&, const at::Tensor&, at::TensorList, int64_t,
    c10::string_view);

constexpr char kGreedyRollout[] = "searnn::greedy_rollout";
constexpr char kEmulatedGreedyRollout[] = "searnn_emulated::greedy_rollout";

template <c10::DeviceType device_type, const char* op_name>
std::tuple<at::Tensor, at::Tensor> greedy_rollout_autocast(
    const at::Tensor& cell_hidden, const std::optional<at::Tensor>& cell_feed,
    const at::Tensor& row_cell, const at::Tensor& row_batch, const at::Tensor& first_tokens,
    const at::Tensor& budgets, const std::optional<at::Tensor>& memory_values,
    const std::optional<at::Tensor>& memory_keys, const at::Tensor& memory_lengths,
    at::TensorList weights, int64_t eos_id, c10::string_view cell) {
  const c10::impl::ExcludeDispatchKeyGuard no_autocast(
      at::autocast::get_autocast_dispatch_key_from_device_type(device_type));
  const at::ScalarType dtype = at::autocast::get_autocast_dtype(device_type);
  const auto cast = [dtype](const auto& t) {
    return at::autocast::cached_cast(dtype, t, device_type);
  };
  std::vector<at::Tensor> cast_weights;
  cast_weights.reserve(weights.size());
  for (const at::Tensor& weight : weights) {
    cast_weights.push_back(cast(weight));
  }
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow(op_name, "")
                             .typed<GreedyRollout>();
  return op.call(cast(cell_hidden), cast(cell_feed), row_cell, row_batch, first_tokens, budgets,
                 cast(memory_values), cast(memory_keys), memory_lengths, cast_weights, eos_id,
                 cell);
}

}  // namespace

TORCH_LIBRARY_IMPL(searnn, AutocastCPU, m) {
  m.impl("greedy_rollout", &greedy_rollout_autocast<c10::DeviceType::CPU, kGreedyRollout>);
}
TORCH_LIBRARY_IMPL(searnn, AutocastCUDA, m) {
  m.impl("greedy_rollout", &greedy_rollout_autocast<c10::DeviceType::CUDA, kGreedyRollout>);
}
TORCH_LIBRARY_IMPL(searnn_emulated, AutocastCPU, m) {
  m.impl("greedy_rollout",
         &greedy_rollout_autocast<c10::DeviceType::CPU, kEmulatedGreedyRollout>);
}

}  // namespace searnn
