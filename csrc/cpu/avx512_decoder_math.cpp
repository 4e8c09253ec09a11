// AVX-512 versions of the float32 and bfloat16 decoder math (see avx512_decoder_math.h). Only
// this file's own functions are compiled for AVX-512 (function target attributes), so nothing
// here leaks AVX-512 code into inline functions that other files share.
#include "avx512_decoder_math.h"

#ifdef SEARNN_HAS_AVX512_KERNELS
#include <c10/util/Exception.h>
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "searnn_ext/cells.h"

#define SEARNN_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16")))

namespace searnn::avx512 {
namespace {

constexpr int64_t kLanes = 16;

SEARNN_AVX512 inline __mmask16 lane_mask(int64_t count) {
  return static_cast<__mmask16>(count >= kLanes ? 0xffff : (1u << count) - 1);
}

// Loads and stores of `count` (1..16) lanes widened to / narrowed from float32; masked lanes
// read as 0 and are not written, so rows need no padding.
SEARNN_AVX512 inline __m512 load(const float* p, int64_t count) {
  return _mm512_maskz_loadu_ps(lane_mask(count), p);
}

SEARNN_AVX512 inline __m512 load(const c10::BFloat16* p, int64_t count) {
  const __m256i bits = _mm256_maskz_loadu_epi16(lane_mask(count), p);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(bits), 16));
}

SEARNN_AVX512 inline void store(float* p, __m512 value, int64_t count) {
  _mm512_mask_storeu_ps(p, lane_mask(count), value);
}

SEARNN_AVX512 inline void store(c10::BFloat16* p, __m512 value, int64_t count) {
  const __m256i bits = (__m256i)_mm512_cvtneps_pbh(value);
  _mm256_mask_storeu_epi16(p, lane_mask(count), bits);
}

template <typename T>
SEARNN_AVX512 inline __m512 load_sum(const T* a, const T* b, int64_t count) {
  return _mm512_add_ps(load(a, count), load(b, count));
}

SEARNN_AVX512 inline __m512 splat(float value) { return _mm512_set1_ps(value); }

// exp(x) to about 1 ULP: x = n ln 2 + r with |r| <= ln 2 / 2, exp(r) = 1 + r + r^2 G(r) with
// G fitted on that interval, times 2^n. x is first clamped to [-104, 89], past which exp is 0 or
// inf in float32, so that n stays small enough for r to be exact (and +-inf gives no inf - inf);
// the constants come first, so that NaN, the second operand, passes through.
// Inlined, unlike a call into a vector library (every zmm register is caller-saved across a
// call, so the callers' loops would spill theirs at each one).
SEARNN_AVX512 inline __m512 exp16(__m512 x) {
  x = _mm512_max_ps(splat(-104.0f), _mm512_min_ps(splat(89.0f), x));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, splat(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  // ln 2 in two parts, the first with trailing zero bits, so that n ln2_hi is exact.
  __m512 r = _mm512_fnmadd_ps(n, splat(0.693145751953125f), x);
  r = _mm512_fnmadd_ps(n, splat(1.428606765330187e-06f), r);
  __m512 g = splat(0.0013933642767369747f);
  g = _mm512_fmadd_ps(g, r, splat(0.008363178931176662f));
  g = _mm512_fmadd_ps(g, r, splat(0.04166646674275398f));
  g = _mm512_fmadd_ps(g, r, splat(0.16666576266288757f));
  g = _mm512_fmadd_ps(g, r, splat(0.5f));
  const __m512 exp_r = _mm512_fmadd_ps(_mm512_mul_ps(r, r), g, _mm512_add_ps(r, splat(1.0f)));
  return _mm512_scalef_ps(exp_r, n);
}

// 1 / (1 + exp(-x)), as ATen's vectorised sigmoid.
SEARNN_AVX512 inline __m512 sigmoid16(__m512 x) {
  const __m512 one = splat(1.0f);
  return _mm512_div_ps(one, _mm512_add_ps(one, exp16(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}

// tanh(x) to within 1.5 ULP (the C++ test measures it): below |x| = 0.625, x + x^3 P(x^2) with P
// fitted there; above, 1 - 2 / (exp(2|x|) + 1), which cancels no digits there; |x| is clamped
// at 10, where tanh rounds to 1. The sign is put back last (tanh(-0) = -0); NaN stays NaN (the
// clamp keeps its second operand, |x|, when that is NaN).
SEARNN_AVX512 inline __m512 tanh16(__m512 x) {
  const __m512 sign = _mm512_castsi512_ps(_mm512_set1_epi32(static_cast<int>(0x80000000u)));
  const __m512 magnitude = _mm512_min_ps(splat(10.0f), _mm512_andnot_ps(sign, x));
  const __m512 square = _mm512_mul_ps(magnitude, magnitude);
  __m512 p = splat(-0.006104837171733379f);
  p = _mm512_fmadd_ps(p, square, splat(0.02100355364382267f));
  p = _mm512_fmadd_ps(p, square, splat(-0.05385247617959976f));
  p = _mm512_fmadd_ps(p, square, splat(0.13332782685756683f));
  p = _mm512_fmadd_ps(p, square, splat(-0.333333283662796f));
  const __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(magnitude, square), p, magnitude);
  const __m512 one = splat(1.0f);
  const __m512 large = _mm512_sub_ps(
      one, _mm512_div_ps(splat(2.0f),
                         _mm512_add_ps(exp16(_mm512_add_ps(magnitude, magnitude)), one)));
  const __mmask16 is_small = _mm512_cmp_ps_mask(magnitude, splat(0.625f), _CMP_LT_OQ);
  return _mm512_or_ps(_mm512_mask_blend_ps(is_small, large, small), _mm512_and_ps(sign, x));
}

// scores[0, length) <- their softmax, sixteen at a time (masked lanes take no part).
SEARNN_AVX512 inline void softmax16(float* scores, int64_t length) {
  __m512 best = splat(-INFINITY);
  for (int64_t first = 0; first < length; first += kLanes) {
    const int64_t block = std::min(kLanes, length - first);
    best = _mm512_mask_max_ps(best, lane_mask(block), best, load(scores + first, block));
  }
  const __m512 top = splat(_mm512_reduce_max_ps(best));
  __m512 total = _mm512_setzero_ps();
  for (int64_t first = 0; first < length; first += kLanes) {
    const int64_t block = std::min(kLanes, length - first);
    const __m512 weight = exp16(_mm512_sub_ps(load(scores + first, block), top));
    store(scores + first, weight, block);
    total = _mm512_add_ps(total, _mm512_maskz_mov_ps(lane_mask(block), weight));
  }
  const __m512 sum = splat(_mm512_reduce_add_ps(total));
  for (int64_t first = 0; first < length; first += kLanes) {
    const int64_t block = std::min(kLanes, length - first);
    store(scores + first, _mm512_div_ps(load(scores + first, block), sum), block);
  }
}

// Units j..j+count of one row, sixteen to a register, as the cells' update.inc reads them
// (searnn_ext/cells.h).
template <typename T>
struct Lanes {
  const T* input_gates;
  const T* hidden_gates;
  const T* hidden_bias;
  T* row_state;
  int64_t j, count, hidden_size;

  SEARNN_AVX512 __m512 input_gate(int64_t g) const {
    return load(input_gates + g * hidden_size + j, count);
  }
  SEARNN_AVX512 __m512 hidden_gate(int64_t g) const {
    const int64_t k = g * hidden_size + j;
    return load_sum(hidden_gates + k, hidden_bias + k, count);
  }
  SEARNN_AVX512 __m512 gate(int64_t g) const {
    return _mm512_add_ps(input_gate(g), hidden_gate(g));
  }
  SEARNN_AVX512 __m512 state(int64_t v) const {
    return load(row_state + v * hidden_size + j, count);
  }
  SEARNN_AVX512 void store(int64_t v, __m512 x) const {
    avx512::store(row_state + v * hidden_size + j, x, count);
  }
  SEARNN_AVX512 static __m512 sigmoid(__m512 x) { return sigmoid16(x); }
  SEARNN_AVX512 static __m512 tanh(__m512 x) { return tanh16(x); }
  SEARNN_AVX512 static __m512 fma(__m512 a, __m512 b, __m512 c) { return _mm512_fmadd_ps(a, b, c); }
  SEARNN_AVX512 static __m512 mul(__m512 a, __m512 b) { return _mm512_mul_ps(a, b); }
  SEARNN_AVX512 static __m512 sub(__m512 a, __m512 b) { return _mm512_sub_ps(a, b); }
};

#define SEARNN_CELL_UPDATE SEARNN_AVX512 inline
#include "searnn_ext/cells/updates.inc"
#undef SEARNN_CELL_UPDATE

template <typename Cell, typename T>
SEARNN_AVX512 void cell_update_avx512(const CellRows<T>& step, int64_t rows) {
  const int64_t hidden_size = step.hidden_size, gates_stride = Cell::kGates * hidden_size;
  for (int64_t row = 0; row < rows; ++row) {
    const T* gi = step.input_gates + (step.input_rows ? step.input_rows[row] : row) * gates_stride;
    const T* gh =
        step.hidden_gates + (step.hidden_rows ? step.hidden_rows[row] : row) * gates_stride;
    T* state = step.state + row * Cell::kStateVectors * hidden_size;
    for (int64_t j = 0; j < hidden_size; j += kLanes) {
      update(Cell{}, Lanes<T>{gi, gh, step.hidden_bias, state, j,
                              std::min(kLanes, hidden_size - j), hidden_size});
    }
  }
}

template <typename T>
SEARNN_AVX512 void additive_attention_row_avx512(const T* query, const T* keys, const T* values,
                                                 int64_t length, const T* score_weight,
                                                 int64_t hidden_size, int64_t value_size,
                                                 float* scores, float* unit_scratch,
                                                 T* context) {
  // The query and the score weights serve every position: widened once.
  const float* q = nullptr;
  const float* w = nullptr;
  if constexpr (std::is_same_v<T, float>) {
    q = query;
    w = score_weight;
  } else {
    for (int64_t j = 0; j < hidden_size; j += kLanes) {
      const int64_t count = std::min(kLanes, hidden_size - j);
      store(unit_scratch + j, load(query + j, count), count);
      store(unit_scratch + hidden_size + j, load(score_weight + j, count), count);
    }
    q = unit_scratch;
    w = unit_scratch + hidden_size;
  }
  for (int64_t s = 0; s < length; ++s) {
    const T* key = keys + s * hidden_size;
    __m512 energy = _mm512_setzero_ps();
    for (int64_t j = 0; j < hidden_size; j += kLanes) {
      const int64_t count = std::min(kLanes, hidden_size - j);
      const __m512 unit = tanh16(_mm512_add_ps(load(key + j, count), load(q + j, count)));
      energy = _mm512_fmadd_ps(load(w + j, count), unit, energy);
    }
    scores[s] = _mm512_reduce_add_ps(energy);
  }
  softmax16(scores, length);
  for (int64_t d = 0; d < value_size; d += kLanes) {
    const int64_t count = std::min(kLanes, value_size - d);
    __m512 sum = _mm512_setzero_ps();
    for (int64_t s = 0; s < length; ++s) {
      sum = _mm512_fmadd_ps(_mm512_set1_ps(scores[s]), load(values + s * value_size + d, count),
                            sum);
    }
    store(context + d, sum, count);
  }
}

// 128-bit lanes [a0 + a1, a2 + a3, b0 + b1, b2 + b3] of a's and b's.
SEARNN_AVX512 inline __m512 paired_lanes(__m512 a, __m512 b) {
  return _mm512_add_ps(_mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
}

// Lane i of the result: the sum of v[i]'s lanes, for 16 vectors at once. A tree of unpacks and
// shuffles transposes as it adds (45 instructions), where 16 horizontal reductions take about
// three times as many.
SEARNN_AVX512 inline __m512 lane_sums16(const __m512* v) {
  __m512 pairs[8], quads[4];
  for (int k = 0; k < 8; ++k) {  // per 128-bit lane: v[2k]'s and v[2k+1]'s halves, interleaved
    pairs[k] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * k], v[2 * k + 1]),
                             _mm512_unpackhi_ps(v[2 * k], v[2 * k + 1]));
  }
  for (int m = 0; m < 4; ++m) {  // per 128-bit lane: the sums of its part of v[4m..4m+3]
    quads[m] = _mm512_add_ps(
        _mm512_shuffle_ps(pairs[2 * m], pairs[2 * m + 1], _MM_SHUFFLE(1, 0, 1, 0)),
        _mm512_shuffle_ps(pairs[2 * m], pairs[2 * m + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  }
  // Across the four 128-bit lanes: 128-bit lane m of the result sums quads[m]'s.
  return paired_lanes(paired_lanes(quads[0], quads[1]), paired_lanes(quads[2], quads[3]));
}

// dot_attention_row keeps each head's scores in dot_attention_score_vectors(length) registers of
// sixteen positions (dot_attention_row.h); lanes past the row's length hold 0.
static_assert(kLanes == 16, "dot_attention_row.h sizes the scores in vectors of 16");

// scores[c] <- the query's and key(s)'s dot product over the head at `offset`, times scale, for
// the sixteen positions s of chunk c (0 past the row's length): one lane_sums16 per chunk.
template <typename T>
SEARNN_AVX512 inline void head_scores(const DotAttentionRow<T>& row, int64_t offset,
                                      int64_t size, float scale, __m512* scores) {
  const T* query = row.query + offset;
  const int64_t length = row.length();
  for (int64_t c = 0; c < dot_attention_score_vectors(length); ++c) {
    const int64_t block = std::min(kLanes, length - c * kLanes);
    __m512 sums[kLanes];
    for (int64_t i = 0; i < kLanes; ++i) {
      __m512 sum = _mm512_setzero_ps();
      if (i < block) {
        const T* key = row.key(c * kLanes + i) + offset;
        for (int64_t j = 0; j < size; j += kLanes) {
          const int64_t count = std::min(kLanes, size - j);
          sum = _mm512_fmadd_ps(load(query + j, count), load(key + j, count), sum);
        }
      }
      sums[i] = sum;
    }
    scores[c] = _mm512_mul_ps(lane_sums16(sums), splat(scale));
  }
}

// scores[0, length) <- their softmax, as softmax16, on whole registers (lanes past the length
// end as 0).
SEARNN_AVX512 inline void softmax_chunks(__m512* scores, int64_t length) {
  const int64_t chunks = dot_attention_score_vectors(length);
  __m512 best = splat(-INFINITY);
  for (int64_t c = 0; c < chunks; ++c) {
    best = _mm512_mask_max_ps(best, lane_mask(length - c * kLanes), best, scores[c]);
  }
  const __m512 top = splat(_mm512_reduce_max_ps(best));
  __m512 total = _mm512_setzero_ps();
  for (int64_t c = 0; c < chunks; ++c) {
    scores[c] = _mm512_maskz_mov_ps(lane_mask(length - c * kLanes),
                                    exp16(_mm512_sub_ps(scores[c], top)));
    total = _mm512_add_ps(total, scores[c]);
  }
  const __m512 sum = splat(_mm512_reduce_add_ps(total));
  for (int64_t c = 0; c < chunks; ++c) {
    scores[c] = _mm512_div_ps(scores[c], sum);
  }
}

// sum + weights[lane] * value[0, count): one weight broadcast from its register by a permute.
template <typename T>
SEARNN_AVX512 inline __m512 add_weighted(__m512 sum, __m512 weights, int64_t lane,
                                         const T* value, int64_t count) {
  const __m512 weight = _mm512_permutexvar_ps(_mm512_set1_epi32(static_cast<int>(lane)), weights);
  return _mm512_fmadd_ps(weight, load(value, count), sum);
}

// Each phase (scores, softmax, weighted values) runs for every head before the next phase: the
// heads' chains of dependent instructions are independent, and side by side the core overlaps
// them. scores: dot_attention_score_vectors(length) registers per head.
template <typename T>
SEARNN_AVX512 void dot_attention_row_avx512(const DotAttentionRow<T>& row, __m512* scores) {
  const int64_t size = row.model_size / row.heads, length = row.length();
  const int64_t chunks = dot_attention_score_vectors(length);
  const float scale = 1.0f / std::sqrt(static_cast<float>(size));
  for (int64_t h = 0; h < row.heads; ++h) {
    head_scores(row, h * size, size, scale, scores + h * chunks);
  }
  for (int64_t h = 0; h < row.heads; ++h) {
    softmax_chunks(scores + h * chunks, length);
  }
  for (int64_t h = 0; h < row.heads; ++h) {
    const int64_t offset = h * size;
    const __m512* weights = scores + h * chunks;
    // Even and odd positions in separate sums: independent chains of FMAs.
    for (int64_t d = 0; d < size; d += kLanes) {
      const int64_t count = std::min(kLanes, size - d);
      __m512 even = _mm512_setzero_ps(), odd = _mm512_setzero_ps();
      for (int64_t c = 0; c < chunks; ++c) {
        const int64_t first = c * kLanes, block = std::min(kLanes, length - first);
        int64_t i = 0;
        for (; i + 1 < block; i += 2) {
          even = add_weighted(even, weights[c], i, row.value(first + i) + offset + d, count);
          odd = add_weighted(odd, weights[c], i + 1, row.value(first + i + 1) + offset + d,
                             count);
        }
        if (i < block) {
          even = add_weighted(even, weights[c], i, row.value(first + i) + offset + d, count);
        }
      }
      store(row.output + offset + d, _mm512_add_ps(even, odd), count);
    }
  }
}

// Two passes over each row, as the mean and then the variance about it: no cancellation.
template <typename T>
SEARNN_AVX512 void layer_norm_rows_avx512(const T* x, const T* weight, const T* bias,
                                          int64_t rows, int64_t size, float eps, T* out) {
  const float inverse_size = 1.0f / static_cast<float>(size);
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = x + r * size;
    __m512 sum = _mm512_setzero_ps();
    for (int64_t j = 0; j < size; j += kLanes) {
      sum = _mm512_add_ps(sum, load(row + j, std::min(kLanes, size - j)));
    }
    const __m512 mean = splat(_mm512_reduce_add_ps(sum) * inverse_size);
    __m512 squares = _mm512_setzero_ps();
    for (int64_t j = 0; j < size; j += kLanes) {
      const int64_t count = std::min(kLanes, size - j);
      const __m512 centred = _mm512_maskz_sub_ps(lane_mask(count), load(row + j, count), mean);
      squares = _mm512_fmadd_ps(centred, centred, squares);
    }
    const float variance = _mm512_reduce_add_ps(squares) * inverse_size;
    const __m512 scale = splat(1.0f / std::sqrt(variance + eps));
    for (int64_t j = 0; j < size; j += kLanes) {
      const int64_t count = std::min(kLanes, size - j);
      const __m512 normed = _mm512_mul_ps(_mm512_sub_ps(load(row + j, count), mean), scale);
      store(out + r * size + j,
            _mm512_fmadd_ps(normed, load(weight + j, count), load(bias + j, count)), count);
    }
  }
}

template <typename T>
SEARNN_AVX512 void tanh_in_place_avx512(T* values, int64_t count) {
  for (int64_t j = 0; j < count; j += kLanes) {
    const int64_t lanes = std::min(kLanes, count - j);
    store(values + j, tanh16(load(values + j, lanes)), lanes);
  }
}

}  // namespace

bool available() {
  static const bool supported =
      __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  return supported;
}

bool available_bfloat16() {
  static const bool supported = available() && __builtin_cpu_supports("avx512bf16");
  return supported;
}

template <typename T>
void cell_update(int64_t cell, const CellRows<T>& step, int64_t rows) {
  visit_cell(cell, [&](auto kind) { cell_update_avx512<decltype(kind)>(step, rows); });
}

template <typename T>
void additive_attention_row(const T* query, const T* keys, const T* values, int64_t length,
                            const T* score_weight, int64_t hidden_size, int64_t value_size,
                            float* scores, float* unit_scratch, T* context) {
  additive_attention_row_avx512(query, keys, values, length, score_weight, hidden_size,
                                value_size, scores, unit_scratch, context);
}

template <typename T>
void dot_attention_row(const DotAttentionRow<T>& row, float* scores) {
  TORCH_INTERNAL_ASSERT(reinterpret_cast<std::uintptr_t>(scores) % alignof(__m512) == 0,
                        "dot_attention_row: the scores' scratch must be 64-byte aligned");
  dot_attention_row_avx512(row, reinterpret_cast<__m512*>(scores));
}

template <typename T>
void layer_norm_rows(const T* x, const T* weight, const T* bias, int64_t rows, int64_t size,
                     float eps, T* out) {
  layer_norm_rows_avx512(x, weight, bias, rows, size, eps, out);
}

template <typename T>
void tanh_in_place(T* values, int64_t count) {
  tanh_in_place_avx512(values, count);
}

template void cell_update(int64_t, const CellRows<float>&, int64_t);
template void cell_update(int64_t, const CellRows<c10::BFloat16>&, int64_t);
template void additive_attention_row(const float*, const float*, const float*, int64_t,
                                     const float*, int64_t, int64_t, float*, float*, float*);
template void additive_attention_row(const c10::BFloat16*, const c10::BFloat16*,
                                     const c10::BFloat16*, int64_t, const c10::BFloat16*, int64_t,
                                     int64_t, float*, float*, c10::BFloat16*);
template void dot_attention_row(const DotAttentionRow<float>&, float*);
template void dot_attention_row(const DotAttentionRow<c10::BFloat16>&, float*);
template void layer_norm_rows(const float*, const float*, const float*, int64_t, int64_t, float,
                              float*);
template void layer_norm_rows(const c10::BFloat16*, const c10::BFloat16*, const c10::BFloat16*,
                              int64_t, int64_t, float, c10::BFloat16*);
template void tanh_in_place(float*, int64_t);
template void tanh_in_place(c10::BFloat16*, int64_t);

}  // namespace searnn::avx512

#endif
