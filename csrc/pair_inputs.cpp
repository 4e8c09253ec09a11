#include "pair_inputs.h"

#include <c10/util/Exception.h>

namespace searnn {
namespace {

bool is_index_dtype(const at::Tensor& t) {
  return t.scalar_type() == at::kLong || t.scalar_type() == at::kInt;
}

void check_index_tensor(const char* op, const char* name, const at::Tensor& t, int64_t dim) {
  // Named as Python names it (torch.float32), since that is what users type.
  TORCH_CHECK_TYPE(is_index_dtype(t), op, ": ", name,
                   " must be an int32 or int64 tensor, got torch.",
                   c10::getDtypeNames(t.scalar_type()).first);
  TORCH_CHECK_VALUE(t.dim() == dim, op, ": ", name, " must be ", dim, "-D, got shape ",
                    t.sizes());
}

void check_same_device(const char* op, const char* name, const at::Tensor& t,
                       const at::Tensor& hyp) {
  TORCH_CHECK_VALUE(t.device() == hyp.device(), op, ": ", name, " is on ", t.device(),
                    " but hyp is on ", hyp.device(), "; all inputs must be on one device");
}

// Values in [low, high]; one reduction, so one device synchronisation on the GPU.
void check_range(const char* op, const char* name, const at::Tensor& t, int64_t low,
                 int64_t high, const char* bound) {
  if (t.numel() == 0) {
    return;
  }
  const auto [min, max] = at::aminmax(t);
  const at::Tensor bounds = at::stack({min, max}).to(at::kCPU);
  const int64_t min_value = bounds[0].item<int64_t>();
  const int64_t max_value = bounds[1].item<int64_t>();
  TORCH_CHECK_VALUE(min_value >= low && max_value <= high, op, ": ", name,
                    " values must lie in [", low, ", ", high, "] (", bound, "), got values in [",
                    min_value, ", ", max_value, "]");
}

}  // namespace

PairInputs check_pair_inputs(const char* op, const at::Tensor& hyp, const at::Tensor& hyp_lengths,
                             const at::Tensor& ref, const at::Tensor& ref_lengths,
                             const std::optional<at::Tensor>& ref_index) {
  // Devices first: on CUDA this runs before the device guard, and names the argument at fault.
  check_same_device(op, "hyp_lengths", hyp_lengths, hyp);
  check_same_device(op, "ref", ref, hyp);
  check_same_device(op, "ref_lengths", ref_lengths, hyp);
  if (ref_index) {
    check_same_device(op, "ref_index", *ref_index, hyp);
  }
  check_index_tensor(op, "hyp", hyp, 2);
  check_index_tensor(op, "hyp_lengths", hyp_lengths, 1);
  check_index_tensor(op, "ref", ref, 2);
  check_index_tensor(op, "ref_lengths", ref_lengths, 1);

  const int64_t n = hyp.size(0);
  const int64_t m = ref.size(0);
  TORCH_CHECK_VALUE(hyp_lengths.size(0) == n, op, ": hyp_lengths must have one entry per hyp row (",
                    n, "), got ", hyp_lengths.size(0));
  TORCH_CHECK_VALUE(ref_lengths.size(0) == m, op, ": ref_lengths must have one entry per ref row (",
                    m, "), got ", ref_lengths.size(0));
  if (ref_index) {
    check_index_tensor(op, "ref_index", *ref_index, 1);
    TORCH_CHECK_VALUE(ref_index->size(0) == n, op,
                      ": ref_index must have one entry per hyp row (", n, "), got ",
                      ref_index->size(0));
    check_range(op, "ref_index", *ref_index, 0, m - 1, "rows of ref");
  } else {
    TORCH_CHECK_VALUE(m == n, op, ": without ref_index, ref must have as many rows as hyp (", n,
                      "), got ", m);
  }
  check_range(op, "hyp_lengths", hyp_lengths, 0, hyp.size(1), "the width of hyp");
  check_range(op, "ref_lengths", ref_lengths, 0, ref.size(1), "the width of ref");

  // One token dtype for the kernels: int32 only when both are int32.
  const auto token_dtype = at::promote_types(hyp.scalar_type(), ref.scalar_type());
  const auto as_long = [](const at::Tensor& t) { return t.to(at::kLong).contiguous(); };
  return PairInputs{hyp.to(token_dtype).contiguous(), as_long(hyp_lengths),
                    ref.to(token_dtype).contiguous(), as_long(ref_lengths),
                    ref_index ? std::optional<at::Tensor>(as_long(*ref_index)) : std::nullopt};
}

}  // namespace searnn
