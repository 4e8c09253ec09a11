// AVX2 + FMA versions of the float32 decoder math (see avx2_decoder_math.h). Only this file's
// own functions are compiled for AVX2 (function target attributes, not a global -mavx2), so
// nothing here leaks AVX2 code into inline functions that other files share.
#include "avx2_decoder_math.h"

#ifdef SEARNN_HAS_AVX2_KERNELS
#include <c10/util/Exception.h>
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "searnn_ext/cells.h"
#include "softmax_scores.h"

#define SEARNN_AVX2 __attribute__((target("avx2,fma")))

// SLEEF's AVX2 functions, exported by libtorch_cpu (ATen's Vectorized<float> calls them);
// sleef.h declares them only when the whole file is compiled for AVX. tanh is the 3.5-ULP
// version: 2.4x faster here than the 1-ULP one ATen uses, and tanh dominates the attention.
extern "C" {
SEARNN_AVX2 __m256 Sleef_expf8_u10avx2(__m256);
SEARNN_AVX2 __m256 Sleef_tanhf8_u35avx2(__m256);
}

namespace searnn::avx2 {
namespace {

constexpr int64_t kLanes = 8;

// Loads and stores of `count` (1..8) lanes; the lanes past `count` read as 0 and are not
// written, so rows need no padding to a multiple of 8.
SEARNN_AVX2 inline __m256i lane_mask(int64_t count) {
  static const int32_t kMaskTable[2 * kLanes] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                                 0,  0,  0,  0,  0,  0,  0,  0};
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kMaskTable + kLanes - count));
}

SEARNN_AVX2 inline __m256 load(const float* p, int64_t count) {
  return count == kLanes ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, lane_mask(count));
}

SEARNN_AVX2 inline void store(float* p, __m256 value, int64_t count) {
  if (count == kLanes) {
    _mm256_storeu_ps(p, value);
  } else {
    _mm256_maskstore_ps(p, lane_mask(count), value);
  }
}

SEARNN_AVX2 inline __m256 load_sum(const float* a, const float* b, int64_t count) {
  return _mm256_add_ps(load(a, count), load(b, count));
}

// 1 / (1 + exp(-x)), as ATen's vectorised sigmoid.
SEARNN_AVX2 inline __m256 sigmoid8(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 exp_negative = Sleef_expf8_u10avx2(_mm256_sub_ps(_mm256_setzero_ps(), x));
  return _mm256_div_ps(one, _mm256_add_ps(one, exp_negative));
}

SEARNN_AVX2 inline float horizontal_sum(__m256 x) {
  __m128 sum = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
  sum = _mm_hadd_ps(sum, sum);
  sum = _mm_hadd_ps(sum, sum);
  return _mm_cvtss_f32(sum);
}

// Units j..j+count of one row, eight to a register, as the cells' update.inc reads them
// (searnn_ext/cells.h).
template <typename T>
struct Lanes {
  const T* input_gates;
  const T* hidden_gates;
  const T* hidden_bias;
  T* row_state;
  int64_t j, count, hidden_size;

  SEARNN_AVX2 __m256 input_gate(int64_t g) const {
    return load(input_gates + g * hidden_size + j, count);
  }
  SEARNN_AVX2 __m256 hidden_gate(int64_t g) const {
    const int64_t k = g * hidden_size + j;
    return load_sum(hidden_gates + k, hidden_bias + k, count);
  }
  SEARNN_AVX2 __m256 gate(int64_t g) const { return _mm256_add_ps(input_gate(g), hidden_gate(g)); }
  SEARNN_AVX2 __m256 state(int64_t v) const {
    return load(row_state + v * hidden_size + j, count);
  }
  SEARNN_AVX2 void store(int64_t v, __m256 x) const {
    avx2::store(row_state + v * hidden_size + j, x, count);
  }
  SEARNN_AVX2 static __m256 sigmoid(__m256 x) { return sigmoid8(x); }
  SEARNN_AVX2 static __m256 tanh(__m256 x) { return Sleef_tanhf8_u35avx2(x); }
  SEARNN_AVX2 static __m256 fma(__m256 a, __m256 b, __m256 c) { return _mm256_fmadd_ps(a, b, c); }
  SEARNN_AVX2 static __m256 mul(__m256 a, __m256 b) { return _mm256_mul_ps(a, b); }
  SEARNN_AVX2 static __m256 sub(__m256 a, __m256 b) { return _mm256_sub_ps(a, b); }
};

#define SEARNN_CELL_UPDATE SEARNN_AVX2 inline
#include "searnn_ext/cells/updates.inc"
#undef SEARNN_CELL_UPDATE

template <typename Cell>
SEARNN_AVX2 void cell_update_avx2(const CellRows<float>& step, int64_t rows) {
  const int64_t hidden_size = step.hidden_size, gates_stride = Cell::kGates * hidden_size;
  for (int64_t row = 0; row < rows; ++row) {
    const float* gi =
        step.input_gates + (step.input_rows ? step.input_rows[row] : row) * gates_stride;
    const float* gh =
        step.hidden_gates + (step.hidden_rows ? step.hidden_rows[row] : row) * gates_stride;
    float* state = step.state + row * Cell::kStateVectors * hidden_size;
    for (int64_t j = 0; j < hidden_size; j += kLanes) {
      update(Cell{}, Lanes<float>{gi, gh, step.hidden_bias, state, j,
                                  std::min(kLanes, hidden_size - j), hidden_size});
    }
  }
}

SEARNN_AVX2 void additive_attention_row_avx2(const float* query, const float* keys,
                                             const float* values, int64_t length,
                                             const float* score_weight, int64_t hidden_size,
                                             int64_t value_size, float* scores,
                                             float* context) {
  float best = -INFINITY;
  for (int64_t s = 0; s < length; ++s) {
    const float* key = keys + s * hidden_size;
    __m256 energy = _mm256_setzero_ps();
    for (int64_t j = 0; j < hidden_size; j += kLanes) {
      const int64_t count = std::min(kLanes, hidden_size - j);
      const __m256 unit =
          Sleef_tanhf8_u35avx2(_mm256_add_ps(load(key + j, count), load(query + j, count)));
      energy = _mm256_fmadd_ps(load(score_weight + j, count), unit, energy);
    }
    scores[s] = horizontal_sum(energy);
    best = std::max(best, scores[s]);
  }
  softmax_scores(scores, length, best);
  for (int64_t d = 0; d < value_size; d += kLanes) {
    const int64_t count = std::min(kLanes, value_size - d);
    __m256 sum = _mm256_setzero_ps();
    for (int64_t s = 0; s < length; ++s) {
      sum = _mm256_fmadd_ps(_mm256_set1_ps(scores[s]), load(values + s * value_size + d, count),
                            sum);
    }
    store(context + d, sum, count);
  }
}

// Lane i of the result: the sum of v[i]'s lanes, for 8 vectors at once. Two rounds of hadds give
// each 128-bit half's sums of four vectors side by side; one add joins the halves.
SEARNN_AVX2 inline __m256 lane_sums8(const __m256* v) {
  const __m256 first = _mm256_hadd_ps(_mm256_hadd_ps(v[0], v[1]), _mm256_hadd_ps(v[2], v[3]));
  const __m256 second = _mm256_hadd_ps(_mm256_hadd_ps(v[4], v[5]), _mm256_hadd_ps(v[6], v[7]));
  return _mm256_add_ps(_mm256_permute2f128_ps(first, second, 0x20),
                       _mm256_permute2f128_ps(first, second, 0x31));
}

SEARNN_AVX2 inline float horizontal_max(__m256 x) {
  __m128 best = _mm_max_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
  best = _mm_max_ps(best, _mm_movehl_ps(best, best));
  best = _mm_max_ss(best, _mm_movehdup_ps(best));
  return _mm_cvtss_f32(best);
}

// The scores of a row of `length` positions: 2 * dot_attention_score_vectors(length) registers of
// eight per head, in the scratch's vectors of sixteen (dot_attention_row.h).
inline int64_t score_registers(int64_t length) { return 2 * dot_attention_score_vectors(length); }

// scores[c] <- the query's and key(s)'s dot product over the head at `offset`, times scale, for
// the eight positions s of chunk c (0 past the row's length): one lane_sums8 per chunk.
SEARNN_AVX2 inline void head_scores(const DotAttentionRow<float>& row, int64_t offset,
                                    int64_t size, float scale, __m256* scores) {
  const float* query = row.query + offset;
  const int64_t length = row.length();
  for (int64_t c = 0; c * kLanes < length; ++c) {
    const int64_t block = std::min(kLanes, length - c * kLanes);
    __m256 sums[kLanes];
    for (int64_t i = 0; i < kLanes; ++i) {
      __m256 sum = _mm256_setzero_ps();
      if (i < block) {
        const float* key = row.key(c * kLanes + i) + offset;
        for (int64_t j = 0; j < size; j += kLanes) {
          const int64_t count = std::min(kLanes, size - j);
          sum = _mm256_fmadd_ps(load(query + j, count), load(key + j, count), sum);
        }
      }
      sums[i] = sum;
    }
    scores[c] = _mm256_mul_ps(lane_sums8(sums), _mm256_set1_ps(scale));
  }
}

// scores[0, length) <- their softmax, eight at a time (lanes past the length end as 0).
SEARNN_AVX2 inline void softmax_chunks(__m256* scores, int64_t length) {
  const int64_t chunks = (length + kLanes - 1) / kLanes;
  const __m256 lowest = _mm256_set1_ps(-INFINITY);
  __m256 best = lowest;
  for (int64_t c = 0; c < chunks; ++c) {
    const __m256 in_row = _mm256_castsi256_ps(lane_mask(std::min(kLanes, length - c * kLanes)));
    best = _mm256_max_ps(best, _mm256_blendv_ps(lowest, scores[c], in_row));
  }
  const __m256 top = _mm256_set1_ps(horizontal_max(best));
  __m256 total = _mm256_setzero_ps();
  for (int64_t c = 0; c < chunks; ++c) {
    const __m256 in_row = _mm256_castsi256_ps(lane_mask(std::min(kLanes, length - c * kLanes)));
    scores[c] = _mm256_and_ps(Sleef_expf8_u10avx2(_mm256_sub_ps(scores[c], top)), in_row);
    total = _mm256_add_ps(total, scores[c]);
  }
  const __m256 sum = _mm256_set1_ps(horizontal_sum(total));
  for (int64_t c = 0; c < chunks; ++c) {
    scores[c] = _mm256_div_ps(scores[c], sum);
  }
}

// Each phase (scores, softmax, weighted values) runs for every head before the next phase, as in
// the AVX-512 kernel: the heads' chains of dependent instructions overlap. Each weight is
// broadcast from the scratch by a load.
SEARNN_AVX2 void dot_attention_row_avx2(const DotAttentionRow<float>& row, float* scratch) {
  const int64_t size = row.model_size / row.heads, length = row.length();
  const int64_t registers = score_registers(length);
  const float scale = 1.0f / std::sqrt(static_cast<float>(size));
  __m256* scores = reinterpret_cast<__m256*>(scratch);
  for (int64_t h = 0; h < row.heads; ++h) {
    head_scores(row, h * size, size, scale, scores + h * registers);
  }
  for (int64_t h = 0; h < row.heads; ++h) {
    softmax_chunks(scores + h * registers, length);
  }
  for (int64_t h = 0; h < row.heads; ++h) {
    const int64_t offset = h * size;
    const float* weights = scratch + h * registers * kLanes;
    // Even and odd positions in separate sums: independent chains of FMAs.
    for (int64_t d = 0; d < size; d += kLanes) {
      const int64_t count = std::min(kLanes, size - d);
      __m256 even = _mm256_setzero_ps(), odd = _mm256_setzero_ps();
      int64_t s = 0;
      for (; s + 1 < length; s += 2) {
        even = _mm256_fmadd_ps(_mm256_broadcast_ss(weights + s),
                               load(row.value(s) + offset + d, count), even);
        odd = _mm256_fmadd_ps(_mm256_broadcast_ss(weights + s + 1),
                              load(row.value(s + 1) + offset + d, count), odd);
      }
      if (s < length) {
        even = _mm256_fmadd_ps(_mm256_broadcast_ss(weights + s),
                               load(row.value(s) + offset + d, count), even);
      }
      store(row.output + offset + d, _mm256_add_ps(even, odd), count);
    }
  }
}

}  // namespace

bool available() {
  static const bool supported = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return supported;
}

void cell_update(int64_t cell, const CellRows<float>& step, int64_t rows) {
  visit_cell(cell, [&](auto kind) { cell_update_avx2<decltype(kind)>(step, rows); });
}

void additive_attention_row(const float* query, const float* keys, const float* values,
                            int64_t length, const float* score_weight, int64_t hidden_size,
                            int64_t value_size, float* scores, float* context) {
  additive_attention_row_avx2(query, keys, values, length, score_weight, hidden_size,
                              value_size, scores, context);
}

void dot_attention_row(const DotAttentionRow<float>& row, float* scores) {
  TORCH_INTERNAL_ASSERT(reinterpret_cast<std::uintptr_t>(scores) % alignof(__m256) == 0,
                        "dot_attention_row: the scores' scratch must be 32-byte aligned");
  dot_attention_row_avx2(row, scores);
}

}  // namespace searnn::avx2

#endif
