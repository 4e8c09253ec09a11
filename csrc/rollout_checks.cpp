#include "rollout_checks.h"

#include <c10/util/Exception.h>

namespace searnn {
namespace {

// Entries of the [R, largest budget] int64 token buffer at most (2 GiB): far past 100,000
// roll-outs of 100 steps, and short of what a few hundred rows at kMaxBudget would ask for.
constexpr int64_t kMaxTokenBuffer = int64_t{1} << 28;

}  // namespace

bool is_float_dtype(at::ScalarType dtype) {
  return dtype == at::kFloat || dtype == at::kDouble || dtype == at::kHalf ||
         dtype == at::kBFloat16;
}

void RolloutChecks::matrix(const char* name, const at::Tensor& t, int64_t rows,
                           int64_t columns) const {
  TORCH_CHECK_VALUE(t.dim() == 2 && t.size(0) == rows && t.size(1) == columns, op, ": ", name,
                    " must have shape [", rows, ", ", columns, "], got ", t.sizes());
  TORCH_CHECK_TYPE(t.scalar_type() == dtype, op, ": ", name, " must be ", dtype, " like ",
                   reference, ", got ", t.scalar_type());
}

void RolloutChecks::vector(const char* name, const at::Tensor& t, int64_t size) const {
  TORCH_CHECK_VALUE(t.dim() == 1 && t.size(0) == size, op, ": ", name, " must have shape [",
                    size, "], got ", t.sizes());
  TORCH_CHECK_TYPE(t.scalar_type() == dtype, op, ": ", name, " must be ", dtype, " like ",
                   reference, ", got ", t.scalar_type());
}

int64_t RolloutChecks::index(const char* name, const at::Tensor& t, int64_t rows,
                             int64_t bound) const {
  TORCH_CHECK_TYPE(t.scalar_type() == at::kLong, op, ": ", name, " must be int64, got ",
                   t.scalar_type());
  TORCH_CHECK_VALUE(t.dim() == 1 && t.size(0) == rows, op, ": ", name, " must have shape [",
                    rows, "], got ", t.sizes());
  if (rows == 0) {
    return 0;
  }
  const auto [low, high] = at::aminmax(t);
  const at::Tensor bounds = at::stack({low, high}).to(at::kCPU);  // one device read
  const int64_t largest = bounds[1].item<int64_t>();
  TORCH_CHECK_VALUE(bounds[0].item<int64_t>() >= 0 && largest < bound, op, ": ", name,
                    " values must lie in [0, ", bound, ")");
  return largest;
}

void RolloutChecks::budgets(const at::Tensor& t, int64_t rows) const {
  const int64_t largest_budget = index("budgets", t, rows, kMaxBudget + 1);
  // No overflow: rows counts a contiguous int64 tensor held in memory (far below 2^43), and
  // largest_budget <= kMaxBudget = 2^20.
  const int64_t tokens = rows * largest_budget;
  TORCH_CHECK_VALUE(tokens <= kMaxTokenBuffer, op,
                    ": the token buffer [rows, largest budget] = [", rows, ", ", largest_budget,
                    "] would hold ", tokens, " tokens, more than the limit of ", kMaxTokenBuffer,
                    "; decode fewer rows at once (rollout_costs' max_rows) or with smaller "
                    "budgets");
}

std::vector<int64_t> active_rows_per_step(const char* op, const at::Tensor& budgets) {
  const at::Tensor host = budgets.to(at::kCPU);
  const int64_t* budget = host.const_data_ptr<int64_t>();
  const int64_t rows = host.size(0);
  for (int64_t r = 1; r < rows; ++r) {
    TORCH_CHECK_VALUE(budget[r] <= budget[r - 1], op,
                      ": budgets must be sorted in non-increasing order");
  }
  // Row r decodes steps [0, budget[r]): at step s, the rows r with budget[r] > s.
  std::vector<int64_t> active(static_cast<size_t>(rows > 0 ? budget[0] : 0));
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t after = r + 1 < rows ? budget[r + 1] : 0;
    for (int64_t step = after; step < budget[r]; ++step) {
      active[static_cast<size_t>(step)] = r + 1;
    }
  }
  return active;
}

}  // namespace searnn
