// Argument checking and normalisation shared by every (hypothesis, reference) cost op, on every
// device: the one boundary where user input is checked.
#pragma once

#include <ATen/ATen.h>

#include <optional>

#include "searnn_ext/pair_batch.h"

namespace searnn {

// The checked inputs: token tensors contiguous and of one dtype (int32 or int64), lengths and
// ref_index as contiguous int64.
struct PairInputs {
  at::Tensor hyp;
  at::Tensor hyp_lengths;
  at::Tensor ref;
  at::Tensor ref_lengths;
  std::optional<at::Tensor> ref_index;

  int64_t size() const { return hyp.size(0); }

  template <typename Token>
  PairBatch<Token> batch() const {
    return PairBatch<Token>{hyp.const_data_ptr<Token>(),
                            hyp.stride(0),
                            hyp_lengths.const_data_ptr<int64_t>(),
                            ref.const_data_ptr<Token>(),
                            ref.stride(0),
                            ref_lengths.const_data_ptr<int64_t>(),
                            ref_index ? ref_index->const_data_ptr<int64_t>() : nullptr,
                            size()};
  }
};

// Raises TypeError (dtype) or ValueError (rank, sizes, ranges, devices) naming the argument.
PairInputs check_pair_inputs(const char* op, const at::Tensor& hyp, const at::Tensor& hyp_lengths,
                             const at::Tensor& ref, const at::Tensor& ref_lengths,
                             const std::optional<at::Tensor>& ref_index);

}  // namespace searnn
