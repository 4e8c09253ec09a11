// The emulated CUDA backend's launcher: it runs the GPU kernels' own functors on the CPU, for
// every thread of the same launch plans as cuda/launcher.cuh, so that an index, stride or
// coverage bug of the GPU code fails the CPU tests. Fresh buffers are poisoned (all bits set:
// -1 for integers, NaN for floats), so an entry no thread writes shows up in the results.
#pragma once

#include <ATen/ATen.h>

#include <array>
#include <type_traits>

#include "../launches/launch_plan.h"
#include "searnn_ext/warp.h"

namespace searnn {

// Values of the 32 lanes of an emulated warp.
template <typename V>
struct LaneValues {
  std::array<V, kWarpSize> lane;
};

// A warp whose 32 lanes run each phase (each lanes() call) to the end before the next phase
// starts, in descending lane order: a phase that read a lower lane's write of the same phase
// would see stale data here, as it could on a GPU. A read of another lane's write from an
// earlier phase without a sync() in between is not caught here (every earlier phase has
// finished); the C++ test runs the cooperative functors on real lane threads for that
// (tests/cpp/simt_warp.h).
struct EmulatedWarp {
  int size() const { return kWarpSize; }

  template <typename F>
  auto lanes(F f) const {
    using Result = decltype(f(0));
    if constexpr (std::is_void_v<Result>) {
      for (int lane = kWarpSize - 1; lane >= 0; --lane) {
        f(lane);
      }
    } else {
      LaneValues<Result> values;
      for (int lane = kWarpSize - 1; lane >= 0; --lane) {
        values.lane[lane] = f(lane);
      }
      return values;
    }
  }

  template <typename V>
  V sum(const LaneValues<V>& values) const {
    return all_reduce(values, [](V a, V b) { return a + b; });
  }

  template <typename Acc>
  ArgMax<Acc> best(const LaneValues<ArgMax<Acc>>& values) const {
    return all_reduce(values, [](const ArgMax<Acc>& a, const ArgMax<Acc>& b) {
      return first_of(a, b);
    });
  }

  void sync() const {}

 private:
  // The GPU's butterfly (__shfl_xor_sync at offsets 16, 8, 4, 2, 1), lane by lane, so that
  // sums round as they do there.
  template <typename V, typename Combine>
  static V all_reduce(LaneValues<V> values, Combine combine) {
    for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
      LaneValues<V> next;
      for (int lane = 0; lane < kWarpSize; ++lane) {
        next.lane[lane] = combine(values.lane[lane], values.lane[lane ^ offset]);
      }
      values = next;
    }
    return values.lane[0];
  }
};

struct EmulatedLauncher {
  static at::Tensor empty(at::IntArrayRef sizes, const at::TensorOptions& options) {
    at::Tensor fresh = at::empty(sizes, options);
    poison(fresh);
    return fresh;
  }

  // A buffer the next launch must write whole: NaN, or -1 in integers.
  static void poison(at::Tensor buffer) {
    if (buffer.numel() > 0) {
      buffer.is_floating_point() ? buffer.fill_(NAN) : buffer.fill_(-1);
    }
  }

  template <typename Threads>
  static void threads(const LaunchPlan& plan, const Threads& body) {
    for (int64_t thread = 0; thread < plan.threads(); ++thread) {
      body(thread);
    }
  }

  template <typename Warps>
  static void warps(const LaunchPlan& plan, const Warps& body) {
    for (int64_t thread = 0; thread < plan.threads(); thread += kWarpSize) {
      body(EmulatedWarp{}, thread / kWarpSize);
    }
  }
};

}  // namespace searnn
