// The per-row decoder math of greedy_rollout without Python: decoder_math.h (the CUDA kernels'
// code, run here on the host) against ATen formulas written as Seq2Seq writes them, in float64
// and float32, and the CPU's AVX2 float32 kernels against decoder_math.h.
#include <ATen/ATen.h>

#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "cpu/avx2_decoder_math.h"
#include "searnn_ext/decoder_math.h"

namespace {

int failures = 0;

void expect(bool ok, const std::string& what) {
  if (!ok) {
    ++failures;
    std::cerr << "FAILED: " << what << "\n";
  }
}

double max_difference(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

double tolerance(at::ScalarType dtype) { return dtype == at::kFloat ? 2e-6 : 1e-13; }

// torch.nn.GRUCell's update from its gate pre-activations.
at::Tensor gru_cell(const at::Tensor& input_gates, const at::Tensor& hidden_gates,
                    const at::Tensor& hidden) {
  const auto i = input_gates.chunk(3, 1), h = hidden_gates.chunk(3, 1);
  const at::Tensor reset = at::sigmoid(i[0] + h[0]);
  const at::Tensor update = at::sigmoid(i[1] + h[1]);
  const at::Tensor candidate = at::tanh(i[2] + reset * h[2]);
  return (1 - update) * candidate + update * hidden;
}

// Seq2Seq.attend for one query over the first `length` of `source` positions.
at::Tensor attend(const at::Tensor& query, const at::Tensor& keys, const at::Tensor& values,
                  int64_t length, const at::Tensor& score_weight) {
  const at::Tensor scores = at::tanh(keys + query).matmul(score_weight);
  const at::Tensor padding = at::arange(keys.size(0)) >= length;
  return at::softmax(scores.masked_fill(padding, -INFINITY), 0).matmul(values);
}

template <typename T>
void test_gru_update(at::ScalarType dtype) {
  for (int64_t hidden_size : {1, 7, 8, 9, 100, 128}) {
    const int64_t rows = 5;
    const auto options = at::TensorOptions().dtype(dtype);
    const at::Tensor input_gates = at::randn({rows, 3 * hidden_size}, options) * 3;
    const at::Tensor hidden_gates = at::randn({rows, 3 * hidden_size}, options) * 3;
    const at::Tensor hidden_bias = at::randn({3 * hidden_size}, options);
    const at::Tensor hidden = at::rand({rows, hidden_size}, options) * 2 - 1;
    const at::Tensor want = gru_cell(input_gates, hidden_gates + hidden_bias, hidden);
    at::Tensor got = hidden.clone();
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t j = 0; j < hidden_size; ++j) {
        searnn::gru_update_unit(input_gates[r].const_data_ptr<T>(),
                                hidden_gates[r].const_data_ptr<T>(),
                                hidden_bias.const_data_ptr<T>(), got[r].data_ptr<T>(), j,
                                hidden_size);
      }
    }
    const std::string where = std::string(c10::toString(dtype)) + " H " +
                              std::to_string(hidden_size);
    expect(max_difference(got, want) < tolerance(dtype), "gru_update_unit " + where);
#ifdef SEARNN_HAS_AVX2_KERNELS
    if constexpr (std::is_same_v<T, float>) {
      if (searnn::avx2::available()) {
        // Rows looked up through indices, as the loop reads the embedding's table.
        const std::vector<int64_t> input_rows = {4, 0, 4, 2, 1}, hidden_rows = {1, 1, 0, 3, 2};
        const at::Tensor input_index = at::tensor(at::ArrayRef<int64_t>(input_rows));
        const at::Tensor hidden_index = at::tensor(at::ArrayRef<int64_t>(hidden_rows));
        at::Tensor fused = hidden.clone();
        searnn::avx2::gru_update({input_gates.const_data_ptr<float>(), input_rows.data(),
                                  hidden_gates.const_data_ptr<float>(), hidden_rows.data(),
                                  hidden_bias.const_data_ptr<float>(), fused.data_ptr<float>(),
                                  hidden_size},
                                 rows);
        const at::Tensor gathered = gru_cell(input_gates.index_select(0, input_index),
                                             hidden_gates.index_select(0, hidden_index) +
                                                 hidden_bias,
                                             hidden);
        expect(max_difference(fused, gathered) < tolerance(dtype), "avx2::gru_update " + where);
      }
    }
#endif
  }
}

template <typename T>
void test_additive_attention(at::ScalarType dtype) {
  const auto options = at::TensorOptions().dtype(dtype);
  for (int64_t source : {1, 3, 10, 70}) {
    for (int64_t hidden_size : {1, 9, 100}) {
      const int64_t value_size = 12;
      const at::Tensor query = at::randn({hidden_size}, options);
      const at::Tensor keys = at::randn({source, hidden_size}, options);
      const at::Tensor values = at::randn({source, value_size}, options);
      const at::Tensor score_weight = at::randn({hidden_size}, options);
      for (int64_t length : {int64_t{1}, (source + 1) / 2, source}) {
        const at::Tensor want = attend(query, keys, values, length, score_weight);
        std::vector<T> scores(source);
        at::Tensor got = at::empty({value_size}, options);
        searnn::additive_attention_row(query.const_data_ptr<T>(), keys.const_data_ptr<T>(),
                                       values.const_data_ptr<T>(), length,
                                       score_weight.const_data_ptr<T>(), hidden_size,
                                       value_size, scores.data(), got.data_ptr<T>());
        const std::string where = std::string(c10::toString(dtype)) + " S " +
                                  std::to_string(source) + " H " +
                                  std::to_string(hidden_size) + " length " +
                                  std::to_string(length);
        // Sums over H units: allow H ulps of float rounding.
        const double allowed = tolerance(dtype) * static_cast<double>(hidden_size);
        expect(max_difference(got, want) < allowed, "additive_attention_row " + where);
#ifdef SEARNN_HAS_AVX2_KERNELS
        if constexpr (std::is_same_v<T, float>) {
          if (searnn::avx2::available()) {
            at::Tensor fused = at::empty({value_size}, options);
            searnn::avx2::additive_attention_row(
                query.const_data_ptr<float>(), keys.const_data_ptr<float>(),
                values.const_data_ptr<float>(), length, score_weight.const_data_ptr<float>(),
                hidden_size, value_size, scores.data(), fused.data_ptr<float>());
            expect(max_difference(fused, want) < allowed,
                   "avx2::additive_attention_row " + where);
          }
        }
#endif
      }
    }
  }
}

void test_greedy_pick() {
  // Ties go to the first maximum; an EOS pick ends the row without being written; a finished
  // row keeps feeding its argmax forward but writes nothing.
  const std::vector<double> logits = {0.5, 2.0, 2.0, -1.0};
  const int64_t vocab = 4, width = 3;
  bool alive = true;
  int64_t next = -1, length = 0;
  std::vector<int64_t> tokens(width, -7);
  searnn::greedy_pick_row(logits.data(), vocab, /*eos=*/3, /*step=*/0, &alive, &next,
                          tokens.data(), &length);
  expect(next == 1 && alive && length == 1 && tokens[0] == 1,
         "greedy_pick_row takes the first maximum");
  searnn::greedy_pick_row(logits.data(), vocab, /*eos=*/1, /*step=*/1, &alive, &next,
                          tokens.data(), &length);
  expect(next == 1 && !alive && length == 1 && tokens[1] == -7, "greedy_pick_row stops at EOS");
  searnn::greedy_pick_row(logits.data(), vocab, /*eos=*/3, /*step=*/2, &alive, &next,
                          tokens.data(), &length);
  expect(next == 1 && length == 1 && tokens[2] == -7, "greedy_pick_row leaves ended rows");
  bool fixed_alive = true;
  int64_t fixed_length = 0;
  searnn::greedy_pick_row(logits.data(), vocab, /*eos=*/-1, /*step=*/0, &fixed_alive, &next,
                          tokens.data(), &fixed_length);
  expect(fixed_alive && fixed_length == 1, "greedy_pick_row never ends a fixed-length row");
}

}  // namespace

int main() {
  at::manual_seed(0);
  test_gru_update<double>(at::kDouble);
  test_gru_update<float>(at::kFloat);
  test_additive_attention<double>(at::kDouble);
  test_additive_attention<float>(at::kFloat);
  test_greedy_pick();
  if (failures) {
    std::cerr << failures << " checks failed\n";
    return 1;
  }
  std::cout << "all decoder math checks passed\n";
  return 0;
}
