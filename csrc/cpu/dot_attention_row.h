// One roll-out row's multi-head attention as the CPU's vectorised kernels (AVX2, AVX-512) take
// it: the row's shared positions (its sequence's cached prefix, or the source memory) then its
// own, as DotAttention of searnn_ext/dot_attention.h reads them.
#pragma once

#include <cstdint>

namespace searnn {

template <typename T>
struct DotAttentionRow {
  const T* query;  // [D]
  const T* shared_keys;
  const T* shared_values;  // [shared_length, D] each
  int64_t shared_length;
  const T* own_keys;
  const T* own_values;  // [own_length, D] each
  int64_t own_length;
  int64_t heads, model_size;
  T* output;  // [D]

  int64_t length() const { return shared_length + own_length; }
  const T* key(int64_t s) const {
    return s < shared_length ? shared_keys + s * model_size
                             : own_keys + (s - shared_length) * model_size;
  }
  const T* value(int64_t s) const {
    return s < shared_length ? shared_values + s * model_size
                             : own_values + (s - shared_length) * model_size;
  }
};

// The vectorised kernels keep each head's scores in whole vectors of 16 positions (the AVX-512
// kernel's registers): this many for a row of `length` positions.
inline int64_t dot_attention_score_vectors(int64_t length) { return (length + 15) / 16; }

// Their float scratch for rows of at most `longest` positions. It must be 64-byte aligned, as
// ATen aligns its CPU tensors.
inline int64_t dot_attention_scratch_floats(int64_t heads, int64_t longest) {
  return heads * dot_attention_score_vectors(longest) * 16;
}

}  // namespace searnn
