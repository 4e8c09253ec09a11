// Argument checks shared by the decode-loop ops (greedy_rollout, transformer_rollout): each
// raises ValueError (shapes, ranges) or TypeError (dtypes) naming the op and the argument.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace searnn {

// Decode steps of one roll-out at most: far past any sequence a model decodes.
constexpr int64_t kMaxBudget = int64_t{1} << 20;

bool is_float_dtype(at::ScalarType dtype);

// Float tensors must have `dtype`, the dtype of the op's argument named `reference`.
struct RolloutChecks {
  const char* op;
  const char* reference;
  at::ScalarType dtype;

  void matrix(const char* name, const at::Tensor& t, int64_t rows, int64_t columns) const;
  void vector(const char* name, const at::Tensor& t, int64_t size) const;
  // Returns the largest value (0 when there are no rows).
  int64_t index(const char* name, const at::Tensor& t, int64_t rows, int64_t bound) const;
  // budgets [rows] in [0, kMaxBudget], and the [rows, largest budget] token buffer the loop
  // allocates up front within its limit.
  void budgets(const at::Tensor& t, int64_t rows) const;
};

// Rows still decoding at each step: budgets are sorted, so they are a prefix of the rows.
std::vector<int64_t> active_rows_per_step(const char* op, const at::Tensor& budgets);

}  // namespace searnn
