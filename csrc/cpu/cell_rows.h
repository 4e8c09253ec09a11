// A cell's step over `rows` rows as the CPU's fused kernels (avx2_decoder_math.h,
// avx512_decoder_math.h) read it: row r reads its [kGates * H] gate rows
// input_gates[input_rows ? input_rows[r] : r] and likewise hidden_gates, adds hidden_bias to the
// hidden side, and updates state[r] ([kStateVectors * H]) in place, as CellUpdate of
// searnn_ext/cells.h.
#pragma once

#include <cstdint>

namespace searnn {

template <typename T>
struct CellRows {
  const T* input_gates;
  const int64_t* input_rows;  // may be null
  const T* hidden_gates;
  const int64_t* hidden_rows;  // may be null
  const T* hidden_bias;
  T* state;
  int64_t hidden_size;
};

}  // namespace searnn
