// A GRU step over `rows` rows as the CPU's fused kernels (avx2_decoder_math.h,
// avx512_decoder_math.h) read it: row r reads its [3H] gate rows
// input_gates[input_rows ? input_rows[r] : r] and likewise hidden_gates, adds hidden_bias [3H]
// to the hidden side, and updates hidden[r] ([H]) in place, as GruUpdate of decoder_math.h.
#pragma once

#include <cstdint>

namespace searnn {

template <typename T>
struct GruRows {
  const T* input_gates;
  const int64_t* input_rows;  // may be null
  const T* hidden_gates;
  const int64_t* hidden_rows;  // may be null
  const T* hidden_bias;
  T* hidden;
  int64_t hidden_size;
};

}  // namespace searnn
