// greedy_rollout and transformer_rollout under torch.autocast: their floating-point inputs are
// cast to the autocast dtype (bfloat16 on CPUs by default, float16 or bfloat16 on GPUs), as
// autocast casts the inputs of its matmul-like ops, so that the decode loop's GEMMs run in that
// dtype; the per-row math still accumulates in float. float64 inputs are left alone, as autocast leaves them.
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

using TransformerRollout = std::tuple<at::Tensor, at::Tensor>(
    const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&,
    const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&,
    const at::Tensor&, at::TensorList, int64_t, int64_t);

constexpr char kGreedyRollout[] = "searnn::greedy_rollout";
constexpr char kEmulatedGreedyRollout[] = "searnn_emulated::greedy_rollout";
constexpr char kTransformerRollout[] = "searnn::transformer_rollout";
constexpr char kEmulatedTransformerRollout[] = "searnn_emulated::transformer_rollout";

// Casts to the autocast dtype of device_type, with autocast off for the op it then calls.
template <c10::DeviceType device_type>
struct AutocastCast {
  c10::impl::ExcludeDispatchKeyGuard no_autocast{
      at::autocast::get_autocast_dispatch_key_from_device_type(device_type)};
  at::ScalarType dtype = at::autocast::get_autocast_dtype(device_type);

  template <typename T>
  auto operator()(const T& t) const {
    return at::autocast::cached_cast(dtype, t, device_type);
  }
  std::vector<at::Tensor> operator()(at::TensorList weights) const {
    std::vector<at::Tensor> cast;
    cast.reserve(weights.size());
    for (const at::Tensor& weight : weights) {
      cast.push_back((*this)(weight));
    }
    return cast;
  }
};

template <c10::DeviceType device_type, const char* op_name>
std::tuple<at::Tensor, at::Tensor> greedy_rollout_autocast(
    const at::Tensor& cell_hidden, const std::optional<at::Tensor>& cell_feed,
    const at::Tensor& row_cell, const at::Tensor& row_batch, const at::Tensor& first_tokens,
    const at::Tensor& budgets, const std::optional<at::Tensor>& memory_values,
    const std::optional<at::Tensor>& memory_keys, const at::Tensor& memory_lengths,
    at::TensorList weights, int64_t eos_id, c10::string_view cell) {
  const AutocastCast<device_type> cast;
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow(op_name, "")
                             .typed<GreedyRollout>();
  return op.call(cast(cell_hidden), cast(cell_feed), row_cell, row_batch, first_tokens, budgets,
                 cast(memory_values), cast(memory_keys), memory_lengths, cast(weights), eos_id,
                 cell);
}

template <c10::DeviceType device_type, const char* op_name>
std::tuple<at::Tensor, at::Tensor> transformer_rollout_autocast(
    const at::Tensor& prefix_keys, const at::Tensor& prefix_values, const at::Tensor& row_batch,
    const at::Tensor& row_prefix, const at::Tensor& first_tokens, const at::Tensor& budgets,
    const at::Tensor& memory_keys, const at::Tensor& memory_values,
    const at::Tensor& memory_lengths, at::TensorList weights, int64_t heads, int64_t eos_id) {
  const AutocastCast<device_type> cast;
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow(op_name, "")
                             .typed<TransformerRollout>();
  return op.call(cast(prefix_keys), cast(prefix_values), row_batch, row_prefix, first_tokens,
                 budgets, cast(memory_keys), cast(memory_values), memory_lengths, cast(weights),
                 heads, eos_id);
}

}  // namespace

TORCH_LIBRARY_IMPL(searnn, AutocastCPU, m) {
  m.impl("greedy_rollout", &greedy_rollout_autocast<c10::DeviceType::CPU, kGreedyRollout>);
  m.impl("transformer_rollout",
         &transformer_rollout_autocast<c10::DeviceType::CPU, kTransformerRollout>);
}
TORCH_LIBRARY_IMPL(searnn, AutocastCUDA, m) {
  m.impl("greedy_rollout", &greedy_rollout_autocast<c10::DeviceType::CUDA, kGreedyRollout>);
  m.impl("transformer_rollout",
         &transformer_rollout_autocast<c10::DeviceType::CUDA, kTransformerRollout>);
}
TORCH_LIBRARY_IMPL(searnn_emulated, AutocastCPU, m) {
  m.impl("greedy_rollout",
         &greedy_rollout_autocast<c10::DeviceType::CPU, kEmulatedGreedyRollout>);
  m.impl("transformer_rollout",
         &transformer_rollout_autocast<c10::DeviceType::CPU, kEmulatedTransformerRollout>);
}

}  // namespace searnn
