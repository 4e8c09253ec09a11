#include "pair_inputs.h"

#include <c10/util/Exception.h>

#include "input_checks.h"

namespace searnn {

PairInputs check_pair_inputs(const char* op, const at::Tensor& hyp, const at::Tensor& hyp_lengths,
                             const at::Tensor& ref, const at::Tensor& ref_lengths,
                             const std::optional<at::Tensor>& ref_index) {
  // Devices first: on CUDA this runs before the device guard, and names the argument at fault.
  check_same_device(op, "hyp_lengths", hyp_lengths, "hyp", hyp);
  check_same_device(op, "ref", ref, "hyp", hyp);
  check_same_device(op, "ref_lengths", ref_lengths, "hyp", hyp);
  if (ref_index) {
    check_same_device(op, "ref_index", *ref_index, "hyp", hyp);
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
