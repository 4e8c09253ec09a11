#include "input_checks.h"

#include <c10/util/Exception.h>

namespace searnn {
namespace {

bool is_index_dtype(const at::Tensor& t) {
  return t.scalar_type() == at::kLong || t.scalar_type() == at::kInt;
}

}  // namespace

void check_index_tensor(const char* op, const char* name, const at::Tensor& t, int64_t dim) {
  // Named as Python names it (torch.float32), since that is what users type.
  TORCH_CHECK_TYPE(is_index_dtype(t), op, ": ", name,
                   " must be an int32 or int64 tensor, got torch.",
                   c10::getDtypeNames(t.scalar_type()).first);
  TORCH_CHECK_VALUE(t.dim() == dim, op, ": ", name, " must be ", dim, "-D, got shape ",
                    t.sizes());
}

void check_same_device(const char* op, const char* name, const at::Tensor& t,
                       const char* first_name, const at::Tensor& first) {
  TORCH_CHECK_VALUE(t.device() == first.device(), op, ": ", name, " is on ", t.device(), " but ",
                    first_name, " is on ", first.device(), "; all inputs must be on one device");
}

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

}  // namespace searnn
