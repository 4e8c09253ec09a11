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
// eight per head, in the scratch's vectors of sixteen (dot_attention_row.h); chunks(length) of
// them hold positions.
inline int64_t score_registers(int64_t length) { return 2 * dot_attention_score_vectors(length); }
inline int64_t chunks(int64_t length) { return (length + kLanes - 1) / kLanes; }

// One head's features as registers of eight. kSize, a multiple of eight known when compiling,
// unrolls the loops over them (and keeps the query in registers); kSize 0 takes any size, the
// last register partial.
template <int64_t kSize>
struct HeadWidth {
  static_assert(kSize % kLanes == 0, "a fixed head size is whole registers");
  int64_t size;

  SEARNN_AVX2 int64_t registers() const { return kSize ? kSize / kLanes : chunks(size); }
  SEARNN_AVX2 int64_t count(int64_t i) const {
    return kSize ? kLanes : std::min(kLanes, size - i * kLanes);
  }
  SEARNN_AVX2 __m256 load(const float* p, int64_t i) const {
    return avx2::load(p + i * kLanes, count(i));
  }
  SEARNN_AVX2 void store(float* p, int64_t i, __m256 value) const {
    avx2::store(p + i * kLanes, value, count(i));
  }
};

// scores[c] <- the query's and key(s)'s dot product over the head at `offset`, times scale, for
// the eight positions s of chunk c: one lane_sums8 per chunk. The last chunk's lanes past the
// row's length read its last key again, so that no position needs a branch; the softmax masks
// them.
template <int64_t kSize>
SEARNN_AVX2 inline void head_scores(const DotAttentionRow<float>& row, HeadWidth<kSize> head,
                                    int64_t offset, float scale, __m256* scores) {
  const float* query = row.query + offset;
  const int64_t length = row.length();
  for (int64_t c = 0; c < chunks(length); ++c) {
    __m256 sums[kLanes];
    for (int64_t i = 0; i < kLanes; ++i) {
      const float* key = row.key(std::min(c * kLanes + i, length - 1)) + offset;
      sums[i] = _mm256_setzero_ps();
      for (int64_t v = 0; v < head.registers(); ++v) {
        sums[i] = _mm256_fmadd_ps(head.load(query, v), head.load(key, v), sums[i]);
      }
    }
    scores[c] = _mm256_mul_ps(lane_sums8(sums), _mm256_set1_ps(scale));
  }
}

// scores[0, length) <- their softmax, eight at a time (lanes past the length end as 0).
SEARNN_AVX2 inline void softmax_chunks(__m256* scores, int64_t length) {
  const __m256 lowest = _mm256_set1_ps(-INFINITY);
  __m256 best = lowest;
  for (int64_t c = 0; c < chunks(length); ++c) {
    const __m256 in_row = _mm256_castsi256_ps(lane_mask(std::min(kLanes, length - c * kLanes)));
    best = _mm256_max_ps(best, _mm256_blendv_ps(lowest, scores[c], in_row));
  }
  const __m256 top = _mm256_set1_ps(horizontal_max(best));
  __m256 total = _mm256_setzero_ps();
  for (int64_t c = 0; c < chunks(length); ++c) {
    const __m256 in_row = _mm256_castsi256_ps(lane_mask(std::min(kLanes, length - c * kLanes)));
    scores[c] = _mm256_and_ps(Sleef_expf8_u10avx2(_mm256_sub_ps(scores[c], top)), in_row);
    total = _mm256_add_ps(total, scores[c]);
  }
  const __m256 sum = _mm256_set1_ps(horizontal_sum(total));
  for (int64_t c = 0; c < chunks(length); ++c) {
    scores[c] = _mm256_div_ps(scores[c], sum);
  }
}

// A head's output, kGroup registers of it at a time: even and odd positions in separate sums,
// eight independent chains of FMAs.
constexpr int64_t kGroup = 4;
struct WeightedSums {
  __m256 even[kGroup], odd[kGroup];
};

// sums += the `positions` values from `values` on (`stride` apart), at registers g.. of the head,
// weighted by weights[0, positions).
template <int64_t kSize>
SEARNN_AVX2 inline void add_weighted(WeightedSums& sums, HeadWidth<kSize> head, int64_t g,
                                     int64_t group, const float* values, int64_t positions,
                                     int64_t stride, const float* weights) {
  int64_t s = 0;
  for (; s + 1 < positions; s += 2) {
    const float* value = values + s * stride;
    const __m256 even = _mm256_broadcast_ss(weights + s);
    const __m256 odd = _mm256_broadcast_ss(weights + s + 1);
    for (int64_t i = 0; i < group; ++i) {
      sums.even[i] = _mm256_fmadd_ps(even, head.load(value, g + i), sums.even[i]);
      sums.odd[i] = _mm256_fmadd_ps(odd, head.load(value + stride, g + i), sums.odd[i]);
    }
  }
  if (s < positions) {
    const __m256 even = _mm256_broadcast_ss(weights + s);
    for (int64_t i = 0; i < group; ++i) {
      sums.even[i] = _mm256_fmadd_ps(even, head.load(values + s * stride, g + i), sums.even[i]);
    }
  }
}

// The head's output at `offset` <- the row's values weighted by `weights` [length]: its shared
// positions, then its own.
template <int64_t kSize>
SEARNN_AVX2 inline void head_values(const DotAttentionRow<float>& row, HeadWidth<kSize> head,
                                    int64_t offset, const float* weights) {
  for (int64_t g = 0; g < head.registers(); g += kGroup) {
    const int64_t group = std::min(kGroup, head.registers() - g);
    WeightedSums sums;
    for (int64_t i = 0; i < kGroup; ++i) {
      sums.even[i] = sums.odd[i] = _mm256_setzero_ps();
    }
    add_weighted(sums, head, g, group, row.shared_values + offset, row.shared_length,
                 row.model_size, weights);
    add_weighted(sums, head, g, group, row.own_values + offset, row.own_length, row.model_size,
                 weights + row.shared_length);
    for (int64_t i = 0; i < group; ++i) {
      head.store(row.output + offset, g + i, _mm256_add_ps(sums.even[i], sums.odd[i]));
    }
  }
}

// Each phase (scores, softmax, weighted values) runs for every head before the next phase, as in
// the AVX-512 kernel: the heads' chains of dependent instructions overlap.
template <int64_t kSize>
SEARNN_AVX2 void attend_by_phases(const DotAttentionRow<float>& row, HeadWidth<kSize> head,
                                  float* scratch) {
  const int64_t length = row.length(), registers = score_registers(length);
  const float scale = 1.0f / std::sqrt(static_cast<float>(head.size));
  __m256* scores = reinterpret_cast<__m256*>(scratch);
  for (int64_t h = 0; h < row.heads; ++h) {
    head_scores(row, head, h * head.size, scale, scores + h * registers);
  }
  for (int64_t h = 0; h < row.heads; ++h) {
    softmax_chunks(scores + h * registers, length);
  }
  for (int64_t h = 0; h < row.heads; ++h) {
    head_values(row, head, h * head.size, scratch + h * registers * kLanes);
  }
}

// The head sizes of common models (d_model 128 or 256 over 4 to 8 heads) get unrolled kernels.
SEARNN_AVX2 void dot_attention_row_avx2(const DotAttentionRow<float>& row, float* scratch) {
  const int64_t size = row.model_size / row.heads;
  switch (size) {
    case 16:
      return attend_by_phases(row, HeadWidth<16>{size}, scratch);
    case 32:
      return attend_by_phases(row, HeadWidth<32>{size}, scratch);
    case 64:
      return attend_by_phases(row, HeadWidth<64>{size}, scratch);
    default:
      return attend_by_phases(row, HeadWidth<0>{size}, scratch);
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
