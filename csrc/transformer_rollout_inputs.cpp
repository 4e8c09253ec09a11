#include "transformer_rollout_inputs.h"

#include <c10/util/Exception.h>

#include <string>

#include "rollout_checks.h"

namespace searnn {
namespace {

constexpr const char* kOp = "transformer_rollout";
constexpr size_t kWeightsPerLayer = 20;  // as TransformerLayerWeights lists them
// Entries of the rows' own keys (and as many values) at most: 4 GiB of float32 each.
constexpr int64_t kMaxOwnCache = int64_t{1} << 30;

void check_devices(const std::vector<std::pair<std::string, const at::Tensor*>>& named) {
  const at::Tensor& first = *named.front().second;
  for (const auto& [name, t] : named) {
    TORCH_CHECK_VALUE(t->device() == first.device(), kOp, ": ", name, " is on ", t->device(),
                      " but prefix_keys is on ", first.device(),
                      "; all inputs must be on one device");
  }
}

// [B, L, positions, D], sharing B, L and D with `like`, in the checked dtype.
void check_cache(const RolloutChecks& check, const char* name, const at::Tensor& t,
                 const at::Tensor& like, const char* like_name) {
  TORCH_CHECK_VALUE(t.dim() == 4, kOp, ": ", name, " must be [B, L, positions, D], got ",
                    t.sizes());
  TORCH_CHECK_VALUE(t.size(0) == like.size(0) && t.size(1) == like.size(1) &&
                        t.size(3) == like.size(3),
                    kOp, ": ", name, " must share B, L and D with ", like_name, " ", like.sizes(),
                    ", got ", t.sizes());
  TORCH_CHECK_TYPE(t.scalar_type() == check.dtype, kOp, ": ", name, " must be ", check.dtype,
                   " like prefix_keys, got ", t.scalar_type());
}

struct WeightReader {
  const RolloutChecks& check;
  std::vector<at::Tensor>::const_iterator next;

  at::Tensor vector(const char* name, int64_t size) {
    at::Tensor t = (next++)->contiguous();
    check.vector(name, t, size);
    return t;
  }
  std::string prefix;  // "layers[l]." inside a layer

  LayerNormWeights norm(const char* name, int64_t size) {
    const std::string weight = prefix + name + ".weight", bias = prefix + name + ".bias";
    return {vector(weight.c_str(), size), vector(bias.c_str(), size)};
  }
  LinearWeights linear(const char* name, int64_t out, int64_t in) {
    const std::string weight = prefix + name + ".weight", bias = prefix + name + ".bias";
    at::Tensor w = (next++)->contiguous();
    check.matrix(weight.c_str(), w, out, in);
    return {w, vector(bias.c_str(), out)};
  }
};

}  // namespace

TransformerRolloutInputs check_transformer_inputs(
    const at::Tensor& prefix_keys, const at::Tensor& prefix_values, const at::Tensor& row_batch,
    const at::Tensor& row_prefix, const at::Tensor& first_tokens, const at::Tensor& budgets,
    const at::Tensor& memory_keys, const at::Tensor& memory_values,
    const at::Tensor& memory_lengths, const std::vector<at::Tensor>& weights, int64_t heads,
    int64_t eos_id) {
  std::vector<std::pair<std::string, const at::Tensor*>> named = {
      {"prefix_keys", &prefix_keys},     {"prefix_values", &prefix_values},
      {"row_batch", &row_batch},         {"row_prefix", &row_prefix},
      {"first_tokens", &first_tokens},   {"budgets", &budgets},
      {"memory_keys", &memory_keys},     {"memory_values", &memory_values},
      {"memory_lengths", &memory_lengths}};
  for (size_t i = 0; i < weights.size(); ++i) {
    named.emplace_back("weights[" + std::to_string(i) + "]", &weights[i]);
  }
  check_devices(named);
  const at::ScalarType dtype = prefix_keys.scalar_type();
  TORCH_CHECK_TYPE(is_float_dtype(dtype), kOp,
                   ": prefix_keys must be float32, float64, float16 or bfloat16, got ", dtype);
  const RolloutChecks check{kOp, "prefix_keys", dtype};
  TORCH_CHECK_VALUE(prefix_keys.dim() == 4 && prefix_keys.size(1) >= 1 &&
                        prefix_keys.size(2) >= 1 && prefix_keys.size(3) >= 1,
                    kOp,
                    ": prefix_keys must be [B, L, P, D] with at least one layer, position and "
                    "feature, got ",
                    prefix_keys.sizes());
  check_cache(check, "prefix_values", prefix_values, prefix_keys, "prefix_keys");
  TORCH_CHECK_VALUE(prefix_values.size(2) == prefix_keys.size(2), kOp,
                    ": prefix_values must have prefix_keys' shape ", prefix_keys.sizes(),
                    ", got ", prefix_values.sizes());
  check_cache(check, "memory_keys", memory_keys, prefix_keys, "prefix_keys");
  check_cache(check, "memory_values", memory_values, memory_keys, "memory_keys");
  TORCH_CHECK_VALUE(memory_values.size(2) == memory_keys.size(2), kOp,
                    ": memory_values must have memory_keys' shape ", memory_keys.sizes(),
                    ", got ", memory_values.sizes());
  const int64_t batch = prefix_keys.size(0), layers = prefix_keys.size(1);
  const int64_t cached = prefix_keys.size(2), model_size = prefix_keys.size(3);
  const int64_t source = memory_keys.size(2);
  TORCH_CHECK_VALUE(heads >= 1 && model_size % heads == 0, kOp, ": heads (", heads,
                    ") must be positive and divide the model size ", model_size);
  const size_t expected = 2 + kWeightsPerLayer * static_cast<size_t>(layers) + 4;
  TORCH_CHECK_VALUE(weights.size() == expected, kOp, ": expected ", expected, " weights for ",
                    layers, " layers, got ", weights.size());
  TORCH_CHECK_VALUE(first_tokens.dim() == 1, kOp, ": first_tokens must be 1-D, got shape ",
                    first_tokens.sizes());
  const int64_t rows = first_tokens.size(0);

  TransformerRolloutInputs in;
  in.heads = heads;
  in.eos_id = eos_id;
  TransformerWeights& w = in.weights;
  w.embedding = weights[0].contiguous();
  TORCH_CHECK_VALUE(w.embedding.dim() == 2 && w.embedding.size(0) >= 2, kOp,
                    ": embedding must be [A + 1, D] with A >= 1 output tokens, got ",
                    w.embedding.sizes());
  const int64_t vocab = w.embedding.size(0) - 1;
  check.matrix("embedding", w.embedding, vocab + 1, model_size);
  w.positions = weights[1].contiguous();
  TORCH_CHECK_VALUE(w.positions.dim() == 2, kOp, ": positions must be [P_max, D], got ",
                    w.positions.sizes());
  check.matrix("positions", w.positions, w.positions.size(0), model_size);
  WeightReader read{check, weights.begin() + 2, ""};
  for (int64_t l = 0; l < layers; ++l) {
    read.prefix = "layers[" + std::to_string(l) + "].";
    TransformerLayerWeights layer;
    layer.self_norm = read.norm("self_norm", model_size);
    layer.self_query = read.linear("self_query", model_size, model_size);
    layer.self_key_value = read.linear("self_key_value", 2 * model_size, model_size);
    layer.self_output = read.linear("self_output", model_size, model_size);
    layer.cross_norm = read.norm("cross_norm", model_size);
    layer.cross_query = read.linear("cross_query", model_size, model_size);
    layer.cross_output = read.linear("cross_output", model_size, model_size);
    layer.ffn_norm = read.norm("ffn_norm", model_size);
    const int64_t ffn_size = read.next->dim() == 2 ? read.next->size(0) : -1;
    TORCH_CHECK_VALUE(ffn_size >= 1, kOp, ": ", read.prefix, "ffn_input.weight must be [F, ",
                      model_size, "], got ", read.next->sizes());
    layer.ffn_input = read.linear("ffn_input", ffn_size, model_size);
    layer.ffn_output = read.linear("ffn_output", model_size, ffn_size);
    w.layers.push_back(layer);
  }
  read.prefix = "";
  w.final_norm = read.norm("decoder_norm", model_size);
  w.output = read.linear("output", vocab, model_size);

  in.prefix_keys = prefix_keys.contiguous();
  in.prefix_values = prefix_values.contiguous();
  in.memory_keys = memory_keys.contiguous();
  in.memory_values = memory_values.contiguous();
  in.memory_lengths = memory_lengths.contiguous();
  check.index("memory_lengths", in.memory_lengths, batch, source + 1);
  TORCH_CHECK_VALUE(batch == 0 || in.memory_lengths.min().item<int64_t>() >= 1, kOp,
                    ": memory_lengths must lie in [1, ", source,
                    "] (a softmax needs at least one position)");
  in.row_batch = row_batch.contiguous();
  in.row_prefix = row_prefix.contiguous();
  in.first_tokens = first_tokens.contiguous();
  in.budgets = budgets.contiguous();
  check.index("row_batch", in.row_batch, rows, batch);
  check.index("row_prefix", in.row_prefix, rows, cached + 1);
  TORCH_CHECK_VALUE(rows == 0 || in.row_prefix.min().item<int64_t>() >= 1, kOp,
                    ": row_prefix values must lie in [1, ", cached,
                    "] (every roll-out reads at least BOS)");
  check.index("first_tokens", in.first_tokens, rows, vocab + 1);
  check.budgets(in.budgets, rows);
  if (rows > 0) {
    // Row r feeds its candidate at position row_prefix[r], then one token per step after it:
    // its last at row_prefix[r] + budgets[r] - 1.
    const at::Tensor ends = at::where(in.budgets > 0, in.row_prefix + in.budgets, 0);
    const int64_t furthest = ends.max().item<int64_t>();
    TORCH_CHECK_VALUE(furthest <= w.positions.size(0), kOp, ": a roll-out would reach position ",
                      furthest - 1, ", past the positions table (", w.positions.size(0),
                      " rows)");
    // Every row's own keys and values, held for the whole call.
    const int64_t own = in.budgets.sum().item<int64_t>() * layers * model_size;
    TORCH_CHECK_VALUE(own <= kMaxOwnCache, kOp, ": the rows' own keys (budgets sum x L x D = ",
                      own, " entries) would exceed the limit of ", kMaxOwnCache,
                      "; decode fewer rows at once (rollout_costs' max_rows)");
  }
  TORCH_CHECK_VALUE(eos_id < vocab, kOp, ": eos_id must be below the vocabulary size ", vocab);
  return in;
}

TransformerRolloutInputs with_dtype(const TransformerRolloutInputs& in, at::ScalarType dtype) {
  TransformerRolloutInputs out = in;
  const auto cast = [dtype](at::Tensor& t) { t = t.to(dtype); };
  for (at::Tensor* t : {&out.prefix_keys, &out.prefix_values, &out.memory_keys,
                        &out.memory_values}) {
    cast(*t);
  }
  TransformerWeights& w = out.weights;
  const auto cast_norm = [&](LayerNormWeights& n) {
    cast(n.weight);
    cast(n.bias);
  };
  const auto cast_linear = [&](LinearWeights& l) {
    cast(l.weight);
    cast(l.bias);
  };
  cast(w.embedding);
  cast(w.positions);
  for (TransformerLayerWeights& layer : w.layers) {
    for (LayerNormWeights* n : {&layer.self_norm, &layer.cross_norm, &layer.ffn_norm}) {
      cast_norm(*n);
    }
    for (LinearWeights* l : {&layer.self_query, &layer.self_key_value, &layer.self_output,
                             &layer.cross_query, &layer.cross_output, &layer.ffn_input,
                             &layer.ffn_output}) {
      cast_linear(*l);
    }
  }
  cast_norm(w.final_norm);
  cast_linear(w.output);
  return out;
}

}  // namespace searnn
