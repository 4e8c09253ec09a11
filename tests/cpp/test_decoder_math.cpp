// The per-row decoder math of greedy_rollout and transformer_rollout without Python: the functors
// of cells.h, decoder_math.h and dot_attention.h (the CUDA kernels' code, run here on the host by
// a serial lane and by an emulated 32-lane warp) against ATen formulas written as the models write
// them, in float64, float32 and bfloat16 storage, and the CPU's AVX-512 and AVX2 kernels against
// the same formulas.
#include <ATen/ATen.h>

#include <cmath>
#include <cstdint>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "cpu/avx2_decoder_math.h"
#include "cpu/avx512_decoder_math.h"
#include "decoder_functors.h"
#include "emulated/launcher.h"
#include "searnn_ext/decoder_math.h"
#include "simt_warp.h"

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

double tolerance(at::ScalarType dtype) {
  switch (dtype) {
    case at::kDouble:
      return 1e-13;
    case at::kFloat:
      return 2e-6;
    default:
      return 1e-2;  // bfloat16 storage: results rounded to 8 significant bits
  }
}

// torch.nn.GRUCell's update from its gate pre-activations.
at::Tensor cell_formula(searnn::GruCell, const at::Tensor& input_gates,
                        const at::Tensor& hidden_gates, const at::Tensor& hidden) {
  const auto i = input_gates.chunk(3, 1), h = hidden_gates.chunk(3, 1);
  const at::Tensor reset = at::sigmoid(i[0] + h[0]);
  const at::Tensor update = at::sigmoid(i[1] + h[1]);
  const at::Tensor candidate = at::tanh(i[2] + reset * h[2]);
  return (1 - update) * candidate + update * hidden;
}

// torch.nn.LSTMCell's update of the state [h | c] from its gate pre-activations.
at::Tensor cell_formula(searnn::LstmCell, const at::Tensor& input_gates,
                        const at::Tensor& hidden_gates, const at::Tensor& state) {
  const auto gate = (input_gates + hidden_gates).chunk(4, 1);
  const at::Tensor cell = at::sigmoid(gate[1]) * state.chunk(2, 1)[1] +
                          at::sigmoid(gate[0]) * at::tanh(gate[2]);
  return at::cat({at::sigmoid(gate[3]) * at::tanh(cell), cell}, 1);
}

// Seq2Seq.attend for one query over the first `length` of `source` positions.
at::Tensor attend(const at::Tensor& query, const at::Tensor& keys, const at::Tensor& values,
                  int64_t length, const at::Tensor& score_weight) {
  const at::Tensor scores = at::tanh(keys + query).matmul(score_weight);
  const at::Tensor padding = at::arange(keys.size(0)) >= length;
  return at::softmax(scores.masked_fill(padding, -INFINITY), 0).matmul(values);
}

template <typename Cell, typename T>
void test_cell_update_at_scale(at::ScalarType dtype, const std::string& name, double scale) {
  for (int64_t hidden_size : {1, 7, 8, 9, 100, 128}) {
    const int64_t rows = 5, gates = Cell::kGates * hidden_size;
    const auto options = at::TensorOptions().dtype(dtype);
    at::Tensor input_gates = at::randn({rows, gates}, options) * scale;
    if (scale > 3.0) {
      input_gates[0].fill_(INFINITY);
      input_gates[1].fill_(-INFINITY);
    }
    const at::Tensor hidden_gates = at::randn({rows, gates}, options) * 3;
    const at::Tensor hidden_bias = at::randn({gates}, options);
    const at::Tensor state =
        at::rand({rows, Cell::kStateVectors * hidden_size}, options) * 2 - 1;
    const auto wide = [](const at::Tensor& t) { return t.to(at::kDouble); };
    const at::Tensor want = cell_formula(Cell{}, wide(input_gates),
                                         wide(hidden_gates) + wide(hidden_bias), wide(state));
    at::Tensor got = state.clone();
    const auto update = searnn::cell_update_over<Cell, T>(
        searnn::GateRows{input_gates, std::nullopt}, searnn::GateRows{hidden_gates, std::nullopt},
        hidden_bias, got);
    for (int64_t unit = 0; unit < rows * hidden_size + 3; ++unit) {  // past the end, as a launch
      update(unit);
    }
    const std::string where = name + " " + std::string(c10::toString(dtype)) + " H " +
                              std::to_string(hidden_size) + (scale > 3.0 ? " saturated" : "");
    expect(max_difference(got, want) < tolerance(dtype), "CellUpdate " + where);
    // The fused CPU kernels, with rows looked up through indices as the loop reads the
    // embedding's table.
    const std::vector<int64_t> input_rows = {4, 0, 4, 2, 1}, hidden_rows = {1, 1, 0, 3, 2};
    const auto indices = [](const std::vector<int64_t>& rows) {
      return at::tensor(at::ArrayRef<int64_t>(rows));
    };
    const at::Tensor gathered =
        cell_formula(Cell{}, wide(input_gates).index_select(0, indices(input_rows)),
                     wide(hidden_gates).index_select(0, indices(hidden_rows)) + wide(hidden_bias),
                     wide(state));
    const auto fused = [&](const auto& kernel) {
      at::Tensor out = state.clone();
      kernel(searnn::CellRows<T>{input_gates.const_data_ptr<T>(), input_rows.data(),
                                 hidden_gates.const_data_ptr<T>(), hidden_rows.data(),
                                 hidden_bias.const_data_ptr<T>(), out.data_ptr<T>(),
                                 hidden_size},
             rows);
      return out;
    };
#ifdef SEARNN_HAS_AVX512_KERNELS
    const bool avx512 = std::is_same_v<T, float> ? searnn::avx512::available()
                                                 : searnn::avx512::available_bfloat16();
    if constexpr (!std::is_same_v<T, double>) {
      if (avx512) {
        const at::Tensor out = fused([](const auto& step, int64_t n) {
          searnn::avx512::cell_update(searnn::cell_index(Cell::kName), step, n);
        });
        expect(max_difference(out, gathered) < tolerance(dtype), "avx512::cell_update " + where);
      }
    }
#endif
#ifdef SEARNN_HAS_AVX2_KERNELS
    if constexpr (std::is_same_v<T, float>) {
      if (searnn::avx2::available()) {
        const at::Tensor out = fused([](const auto& step, int64_t n) {
          searnn::avx2::cell_update(searnn::cell_index(Cell::kName), step, n);
        });
        expect(max_difference(out, gathered) < tolerance(dtype), "avx2::cell_update " + where);
      }
    }
#endif
  }
}

// Gates of the usual size, and saturated ones (huge and infinite), which the sigmoids and tanh
// must take to 0, 1 and +-1 without a NaN.
template <typename Cell, typename T>
void test_cell_update(at::ScalarType dtype, const std::string& name) {
  test_cell_update_at_scale<Cell, T>(dtype, name, 3.0);
  test_cell_update_at_scale<Cell, T>(dtype, name, 1e30);
}

// Each way of running a cooperative functor's row: a SerialWarp, an EmulatedWarp, and real lane
// threads in ascending and descending order (simt_warp.h).
enum class Lanes { kSerial, kEmulated, kAscending, kDescending };

template <typename Functor>
void run_row(Lanes lanes, const Functor& functor, int64_t row) {
  switch (lanes) {
    case Lanes::kSerial:
      functor(searnn::SerialWarp{}, row);
      return;
    case Lanes::kEmulated:
      functor(searnn::EmulatedWarp{}, row);
      return;
    default:
      const auto order =
          lanes == Lanes::kAscending ? searnn::ascending_lanes() : searnn::descending_lanes();
      expect(searnn::run_simt_warp(functor, row, order), "every lane reaches every collective");
  }
}

// Runs an AdditiveAttention over `rows` rows, a warp per row.
template <typename T>
at::Tensor attend_rows(Lanes lanes, const at::Tensor& query, const at::Tensor& keys,
                       const at::Tensor& values, const at::Tensor& lengths,
                       const at::Tensor& row_batch, const at::Tensor& score_weight) {
  using Acc = searnn::accumulate_t<T>;
  const int64_t rows = query.size(0);
  at::Tensor scores = at::empty({rows, keys.size(1)}, at::TensorOptions().dtype(
                                                          c10::CppTypeToScalarType<Acc>()));
  at::Tensor context = at::full({rows, values.size(2)}, NAN, values.options());
  const searnn::AdditiveAttention<T> attention = searnn::additive_attention_over<T>(
      query, keys, values, lengths, row_batch, score_weight, scores, context);
  for (int64_t r = 0; r < rows + 2; ++r) {  // past the end, as a launch
    run_row(lanes, attention, r);
  }
  return context;
}

template <typename T>
void test_additive_attention(at::ScalarType dtype) {
  const auto options = at::TensorOptions().dtype(dtype);
  for (int64_t source : {1, 3, 10, 70}) {
    for (int64_t hidden_size : {1, 9, 100}) {
      const int64_t value_size = 40, batch = 3;  // value_size > 32: lanes take two units
      const at::Tensor keys = at::randn({batch, source, hidden_size}).to(dtype);
      const at::Tensor values = at::randn({batch, source, value_size}).to(dtype);
      const at::Tensor score_weight = at::randn({hidden_size}).to(dtype);
      const at::Tensor lengths =
          at::tensor(at::ArrayRef<int64_t>({int64_t{1}, (source + 1) / 2, source}));
      const at::Tensor row_batch = at::tensor(at::ArrayRef<int64_t>({2, 0, 1, 1, 2}));
      const at::Tensor query = at::randn({row_batch.size(0), hidden_size}).to(dtype);
      const auto wide = [](const at::Tensor& t) { return t.to(at::kDouble); };
      std::vector<at::Tensor> want_rows;
      for (int64_t r = 0; r < row_batch.size(0); ++r) {
        const int64_t b = row_batch[r].item<int64_t>();
        want_rows.push_back(attend(wide(query[r]), wide(keys[b]), wide(values[b]),
                                   lengths[b].item<int64_t>(), wide(score_weight)));
      }
      const at::Tensor want = at::stack(want_rows);
      const std::string where = std::string(c10::toString(dtype)) + " S " +
                                std::to_string(source) + " H " + std::to_string(hidden_size);
      // Sums over H units: allow H ulps of float rounding.
      const double allowed = tolerance(dtype) * static_cast<double>(hidden_size);
      const auto attend = [&](Lanes lanes) {
        return attend_rows<T>(lanes, query, keys, values, lengths, row_batch, score_weight);
      };
      const at::Tensor serial = attend(Lanes::kSerial), warp = attend(Lanes::kEmulated);
      expect(max_difference(serial, want) < allowed, "AdditiveAttention, serial " + where);
      expect(max_difference(warp, want) < allowed, "AdditiveAttention, warp " + where);
      if (source <= 10) {  // 32 threads per row: the small shapes only
        expect(at::equal(attend(Lanes::kAscending), warp) &&
                   at::equal(attend(Lanes::kDescending), warp),
               "AdditiveAttention, lane threads in either order give the warp's bits " + where);
      }
#ifdef SEARNN_HAS_AVX512_KERNELS
      const bool avx512 = std::is_same_v<T, float> ? searnn::avx512::available()
                                                   : searnn::avx512::available_bfloat16();
      if constexpr (!std::is_same_v<T, double>) {
        if (avx512) {
          std::vector<float> scores(source), unit_scratch(2 * hidden_size);
          at::Tensor fused = at::empty({value_size}, options);
          const int64_t b = row_batch[0].item<int64_t>();
          searnn::avx512::additive_attention_row(
              query[0].const_data_ptr<T>(), keys[b].const_data_ptr<T>(),
              values[b].const_data_ptr<T>(), lengths[b].item<int64_t>(),
              score_weight.const_data_ptr<T>(), hidden_size, value_size, scores.data(),
              unit_scratch.data(), fused.data_ptr<T>());
          expect(max_difference(fused, want[0]) < allowed,
                 "avx512::additive_attention_row " + where);
        }
      }
#endif
#ifdef SEARNN_HAS_AVX2_KERNELS
      if constexpr (std::is_same_v<T, float>) {
        if (searnn::avx2::available()) {
          std::vector<float> scores(source);
          at::Tensor fused = at::empty({value_size}, options);
          const int64_t b = row_batch[0].item<int64_t>();
          searnn::avx2::additive_attention_row(
              query[0].const_data_ptr<float>(), keys[b].const_data_ptr<float>(),
              values[b].const_data_ptr<float>(), lengths[b].item<int64_t>(),
              score_weight.const_data_ptr<float>(), hidden_size, value_size, scores.data(),
              fused.data_ptr<float>());
          expect(max_difference(fused, want[0]) < allowed,
                 "avx2::additive_attention_row " + where);
        }
      }
#endif
    }
  }
}

// One greedy choice of each of three rows, a warp per row.
void pick(Lanes lanes, const std::vector<double>& logits, int64_t vocab, int64_t eos,
          int64_t step, std::vector<uint8_t>& alive, std::vector<int64_t>& next,
          std::vector<int64_t>& tokens, std::vector<int64_t>& lengths) {
  const int64_t rows = static_cast<int64_t>(next.size()), width = tokens.size() / rows;
  bool alive_rows[8];
  for (int64_t r = 0; r < rows; ++r) alive_rows[r] = alive[r];
  const searnn::GreedyPick<double> greedy{logits.data(), rows,  vocab,        eos,
                                          step,          alive_rows, next.data(), tokens.data(),
                                          width,         lengths.data()};
  for (int64_t r = 0; r < rows + 2; ++r) {  // past the end, as a launch
    run_row(lanes, greedy, r);
  }
  for (int64_t r = 0; r < rows; ++r) alive[r] = alive_rows[r];
}

void test_greedy_pick(Lanes warp, const std::string& name) {
  // Ties go to the first maximum, NaN above all (as torch.argmax); an EOS pick ends the row
  // without being written; a finished row keeps feeding its argmax forward but writes nothing.
  // Row 0's maximum sits past lane 32, row 2 has a NaN.
  const int64_t vocab = 70, width = 3;
  std::vector<double> logits(3 * vocab, 0.0);
  logits[40] = logits[45] = 2.0;
  logits[vocab + 1] = logits[vocab + 2] = 1.0;
  logits[2 * vocab + 50] = 3.0;
  logits[2 * vocab + 60] = NAN;
  std::vector<uint8_t> alive = {1, 1, 1};
  std::vector<int64_t> next(3, -1), tokens(3 * width, -7), lengths(3, 0);
  pick(warp, logits, vocab, /*eos=*/45, /*step=*/0, alive, next, tokens, lengths);
  expect(next == std::vector<int64_t>({40, 1, 60}), name + ": the first maximum, NaN first");
  expect(tokens[0] == 40 && tokens[width] == 1 && lengths[0] == 1, name + ": tokens written");
  pick(warp, logits, vocab, /*eos=*/1, /*step=*/1, alive, next, tokens, lengths);
  expect(!alive[1] && alive[0] && lengths[1] == 1 && tokens[width + 1] == -7,
         name + ": EOS ends a row unwritten");
  pick(warp, logits, vocab, /*eos=*/-1, /*step=*/2, alive, next, tokens, lengths);
  expect(next[1] == 1 && lengths[1] == 1 && tokens[width + 2] == -7,
         name + ": an ended row writes nothing");
  expect(alive[0] && lengths[0] == 3, name + ": fixed-length rows never end");
}

// The lane threads' own check: a functor reading its neighbour lane's write gets the same
// answer in both orders with a sync() between write and read, and different answers without.
struct NeighbourRead {
  float* scratch;
  float* out;
  bool synced;

  template <typename Warp>
  void operator()(const Warp& warp, int64_t) const {
    warp.lanes([&](int lane) { scratch[lane] = static_cast<float>(lane + 1); });
    if (synced) {
      warp.sync();
    }
    warp.lanes([&](int lane) { out[lane] = scratch[(lane + 1) % searnn::kWarpSize]; });
  }
};

void test_lane_threads_see_a_missing_sync() {
  for (const bool synced : {true, false}) {
    std::vector<std::vector<float>> outs;
    for (const auto& order : {searnn::ascending_lanes(), searnn::descending_lanes()}) {
      std::vector<float> scratch(searnn::kWarpSize, 0.0f), out(searnn::kWarpSize, -1.0f);
      searnn::run_simt_warp(NeighbourRead{scratch.data(), out.data(), synced}, 0, order);
      outs.push_back(out);
    }
    expect((outs[0] == outs[1]) == synced,
           synced ? "lane threads agree with a sync" : "lane threads show a missing sync");
  }
}

// Multi-head attention as TransformerSeq2Seq writes it, of one row's query [D] over keys and
// values [positions, D].
at::Tensor dot_attend(const at::Tensor& query, const at::Tensor& keys, const at::Tensor& values,
                      int64_t heads) {
  const int64_t size = query.size(0) / heads;
  const at::Tensor q = query.view({heads, 1, size});
  const at::Tensor k = keys.view({-1, heads, size}).transpose(0, 1);
  const at::Tensor v = values.view({-1, heads, size}).transpose(0, 1);
  const at::Tensor weights = at::softmax(at::matmul(q, k.transpose(1, 2)) / std::sqrt(size), -1);
  return at::matmul(weights, v).reshape({-1});
}

// DotAttention over rows reading a shared [B, P, D] cache by sequence (its first
// shared_lengths[r] positions) and own keys [positions, D] from own_starts[r] on.
template <typename T>
void test_dot_attention(at::ScalarType dtype) {
  using Acc = searnn::accumulate_t<T>;
  const auto acc = at::TensorOptions().dtype(c10::CppTypeToScalarType<Acc>());
  for (int64_t heads : {1, 2, 4}) {
    // 40 and 64: each lane takes two features or more; 16, 32 and 64: the AVX2 kernel's unrolled
    // head sizes; 4 and 40 its others.
    for (int64_t size : {4, 16, 32, 40, 64}) {
      for (int64_t own_length : {0, 1, 3}) {
        // Up to 40 + 3 positions: the AVX-512 row scores sixteen positions at a time.
        const int64_t model_size = heads * size, batch = 3, cached = 40;
        // Layer 1 of a [B, L = 2, P, D] cache: sequences 2 * P * D apart.
        const auto layer_one = [&] {
          return at::randn({batch, 2, cached, model_size}).to(dtype).select(1, 1);
        };
        const at::Tensor shared_keys = layer_one(), shared_values = layer_one();
        const at::Tensor row_batch = at::tensor(at::ArrayRef<int64_t>({2, 0, 1, 1}));
        const at::Tensor shared_lengths = at::tensor(at::ArrayRef<int64_t>({40, 1, 16, 17}));
        const at::Tensor own_starts = at::tensor(at::ArrayRef<int64_t>({0, 3, 7, 10}));
        const at::Tensor own_keys = at::randn({14, model_size}).to(dtype);
        const at::Tensor own_values = at::randn({14, model_size}).to(dtype);
        const int64_t rows = row_batch.size(0);
        const at::Tensor query = at::randn({rows, model_size}).to(dtype);
        std::vector<at::Tensor> want_rows;
        const auto wide = [](const at::Tensor& t) { return t.to(at::kDouble); };
        for (int64_t r = 0; r < rows; ++r) {
          const int64_t b = row_batch[r].item<int64_t>();
          const int64_t shared = shared_lengths[r].item<int64_t>();
          const int64_t start = own_starts[r].item<int64_t>();
          const at::Tensor keys = at::cat({shared_keys[b].narrow(0, 0, shared),
                                           own_keys.narrow(0, start, own_length)});
          const at::Tensor values = at::cat({shared_values[b].narrow(0, 0, shared),
                                             own_values.narrow(0, start, own_length)});
          want_rows.push_back(dot_attend(wide(query[r]), wide(keys), wide(values), heads));
        }
        const at::Tensor want = at::stack(want_rows);
        const std::string where = std::string(c10::toString(dtype)) + " heads " +
                                  std::to_string(heads) + " size " + std::to_string(size) +
                                  " own " + std::to_string(own_length);
        const auto attend = [&](Lanes lanes) {
          at::Tensor scores = at::empty({rows * heads, cached + own_length}, acc);
          at::Tensor sums = at::empty({rows, model_size}, acc);
          at::Tensor output = at::full({rows, model_size}, NAN, query.options());
          const searnn::DotAttention<T> attention = searnn::dot_attention_over<T>(
              query, shared_keys, shared_values, row_batch, shared_lengths, own_keys,
              own_values, own_starts, own_length, heads, scores, sums, output);
          for (int64_t item = 0; item < rows * heads + 2; ++item) {  // past the end
            run_row(lanes, attention, item);
          }
          return output;
        };
        const double allowed = tolerance(dtype) * static_cast<double>(size);
        const at::Tensor serial = attend(Lanes::kSerial), warp = attend(Lanes::kEmulated);
        expect(max_difference(serial, want) < allowed, "DotAttention, serial " + where);
        expect(max_difference(warp, want) < allowed, "DotAttention, warp " + where);
        expect(at::equal(attend(Lanes::kAscending), warp) &&
                   at::equal(attend(Lanes::kDescending), warp),
               "DotAttention, lane threads in either order give the warp's bits " + where);
        // The CPU's fused kernels, a row at a time.
        const auto fused = [&](const auto& attend_row) {
          at::Tensor output = at::full({rows, model_size}, NAN, query.options());
          at::Tensor scores = at::empty(
              {searnn::dot_attention_scratch_floats(heads, cached + own_length)}, at::kFloat);
          for (int64_t r = 0; r < rows; ++r) {
            const int64_t b = row_batch[r].item<int64_t>();
            const int64_t own_at = own_starts[r].item<int64_t>() * model_size;
            const searnn::DotAttentionRow<T> row{query[r].const_data_ptr<T>(),
                                                 shared_keys[b].const_data_ptr<T>(),
                                                 shared_values[b].const_data_ptr<T>(),
                                                 shared_lengths[r].item<int64_t>(),
                                                 own_keys.const_data_ptr<T>() + own_at,
                                                 own_values.const_data_ptr<T>() + own_at,
                                                 own_length,
                                                 heads,
                                                 model_size,
                                                 output[r].data_ptr<T>()};
            attend_row(row, scores.data_ptr<float>());
          }
          return output;
        };
#ifdef SEARNN_HAS_AVX512_KERNELS
        if constexpr (!std::is_same_v<T, double>) {
          if (std::is_same_v<T, float> ? searnn::avx512::available()
                                       : searnn::avx512::available_bfloat16()) {
            expect(max_difference(fused(searnn::avx512::dot_attention_row<T>), want) < allowed,
                   "avx512::dot_attention_row " + where);
          }
        }
#endif
#ifdef SEARNN_HAS_AVX2_KERNELS
        if constexpr (std::is_same_v<T, float>) {
          if (searnn::avx2::available()) {
            expect(max_difference(fused(searnn::avx2::dot_attention_row), want) < allowed,
                   "avx2::dot_attention_row " + where);
          }
        }
#endif
      }
    }
  }
}

// avx512::tanh_in_place against the correctly rounded tanh: within 1.5 ULP in float32 on a dense
// sweep, tiny and huge values, both sides of its 0.625 switch, and the special values; within one
// unit of bfloat16's 8 bits in bfloat16.
void test_avx512_tanh() {
  if (!searnn::avx512::available()) {
    return;
  }
  std::vector<float> inputs = {0.0f, -0.0f, 1e-30f, -1e-45f, 0.625f, -0.625f, 9.0f, 9.5f,
                               -20.0f, 1e30f, -1e30f};
  for (float x = std::nextafter(0.625f, 0.0f), k = 0; k < 64; ++k, x = std::nextafter(x, 1.0f)) {
    inputs.push_back(x);
  }
  for (int64_t i = 0; i <= 400000; ++i) {
    inputs.push_back(-10.0f + 20.0f * static_cast<float>(i) / 400000.0f);
  }
  for (double x = 1e-38; x < 1.0; x *= 1.01) {
    inputs.push_back(static_cast<float>(x));
    inputs.push_back(static_cast<float>(-x));
  }
  std::vector<float> got = inputs;
  searnn::avx512::tanh_in_place(got.data(), static_cast<int64_t>(got.size()));
  double worst = 0.0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const double exact = std::tanh(static_cast<double>(inputs[i]));
    const float rounded = static_cast<float>(exact);
    const double ulp = std::nextafter(std::fabs(rounded), INFINITY) - std::fabs(rounded);
    worst = std::max(worst, std::fabs(got[i] - exact) / ulp);
    expect(std::signbit(got[i]) == std::signbit(inputs[i]),
           "avx512 tanh keeps the sign of " + std::to_string(inputs[i]));
  }
  expect(worst <= 1.5, "avx512 tanh within 1.5 ULP, worst " + std::to_string(worst));
  std::vector<float> special = {INFINITY, -INFINITY, NAN};
  searnn::avx512::tanh_in_place(special.data(), 3);
  expect(special[0] == 1.0f && special[1] == -1.0f && std::isnan(special[2]),
         "avx512 tanh of inf, -inf and NaN");
  if (searnn::avx512::available_bfloat16()) {
    const at::Tensor x = at::linspace(-10, 10, 20001, at::kBFloat16);
    at::Tensor y = x.clone();
    searnn::avx512::tanh_in_place(y.data_ptr<at::BFloat16>(), y.numel());
    const at::Tensor want = at::tanh(x.to(at::kDouble));
    expect(((y.to(at::kDouble) - want).abs() <= want.abs() * std::ldexp(1.0, -8) + 1e-40)
               .all()
               .item<bool>(),
           "avx512 tanh in bfloat16");
  }
}

// avx512::layer_norm_rows against torch's layer norm in float64, on row sizes below, at and past
// the 16 lanes, on rows far from zero (a one-pass variance would cancel there) and on rows whose
// variance is below eps (eps left out would be off by 3x there).
void test_avx512_layer_norm() {
  if (!searnn::avx512::available()) {
    return;
  }
  const std::pair<double, double> offsets_and_spreads[] = {{0.0, 1.0}, {1000.0, 1.0}, {0.0, 1e-3}};
  for (const int64_t size : {1, 5, 16, 17, 100, 128, 130}) {
    for (const auto& [offset, spread] : offsets_and_spreads) {
      const at::Tensor x = at::randn({7, size}, at::kDouble) * spread + offset;
      const at::Tensor weight = at::randn({size}, at::kDouble);
      const at::Tensor bias = at::randn({size}, at::kDouble);
      const std::string where = " of " + std::to_string(size) + " values, offset " +
                                std::to_string(offset) + ", spread " + std::to_string(spread);
      // The largest difference from torch's layer norm of the rows as type T holds them.
      const auto difference = [&](auto type, at::ScalarType dtype) {
        using T = decltype(type);
        const at::Tensor x_in = x.to(dtype), weight_in = weight.to(dtype);
        const at::Tensor bias_in = bias.to(dtype);
        at::Tensor out = at::empty_like(x_in);
        searnn::avx512::layer_norm_rows(x_in.const_data_ptr<T>(), weight_in.const_data_ptr<T>(),
                                        bias_in.const_data_ptr<T>(), x.size(0), size, 1e-5f,
                                        out.data_ptr<T>());
        const at::Tensor want =
            at::layer_norm(x_in.to(at::kDouble), {size}, weight_in.to(at::kDouble),
                           bias_in.to(at::kDouble), 1e-5);
        return (out.to(at::kDouble) - want).abs().max().item<double>() /
               (want.abs().max().item<double>() + 1.0);
      };
      // float32's own rounding of a mean near `offset`; a one-pass variance would be off by
      // several percent at 1000.
      expect(difference(float{}, at::kFloat) < 1e-6 * (offset + 10),
             "avx512 layer norm in float32" + where);
      if (searnn::avx512::available_bfloat16()) {
        expect(difference(at::BFloat16{}, at::kBFloat16) < std::ldexp(1.0, -7),
               "avx512 layer norm in bfloat16" + where);
      }
    }
  }
}

}  // namespace

int main() {
  at::manual_seed(0);
  test_cell_update<searnn::GruCell, double>(at::kDouble, "GRU");
  test_cell_update<searnn::GruCell, float>(at::kFloat, "GRU");
  test_cell_update<searnn::GruCell, at::BFloat16>(at::kBFloat16, "GRU");
  test_cell_update<searnn::LstmCell, double>(at::kDouble, "LSTM");
  test_cell_update<searnn::LstmCell, float>(at::kFloat, "LSTM");
  test_cell_update<searnn::LstmCell, at::BFloat16>(at::kBFloat16, "LSTM");
  test_additive_attention<double>(at::kDouble);
  test_additive_attention<float>(at::kFloat);
  test_additive_attention<at::BFloat16>(at::kBFloat16);
  test_dot_attention<double>(at::kDouble);
  test_dot_attention<float>(at::kFloat);
  test_dot_attention<at::BFloat16>(at::kBFloat16);
  test_greedy_pick(Lanes::kSerial, "serial GreedyPick");
  test_greedy_pick(Lanes::kEmulated, "warp GreedyPick");
  test_greedy_pick(Lanes::kAscending, "lane threads GreedyPick, ascending");
  test_greedy_pick(Lanes::kDescending, "lane threads GreedyPick, descending");
  test_lane_threads_see_a_missing_sync();
  test_avx512_tanh();
  test_avx512_layer_norm();
  if (failures) {
    std::cerr << failures << " checks failed\n";
    return 1;
  }
  std::cout << "all decoder math checks passed\n";
  return 0;
}
