// Cooperative kernels (a warp per row) are written once as functions of a `Warp`, so that a GPU
// warp, the CPU's serial loop and the emulated CUDA backend all run the same per-lane code:
//
//   size()        lanes: 32 on a GPU and in emulation, 1 in the CPU's serial loop;
//   lanes(f)      runs f(lane) on every lane; a non-void result is a per-lane value;
//   sum(v)        the total of a per-lane value, held by every lane (a butterfly all-reduce);
//   best(v)       the winner (first_of) of a per-lane ArgMax, held by every lane;
//   sync()        makes the lanes' memory writes visible to the reads that follow.
//
// On a GPU the body around these calls runs once per lane, each lane with its own locals; in
// emulation it runs once for the whole warp. So that both agree, a functor writes memory only
// inside lanes(), its lanes() lambdas only read what they capture, and state that differs
// between lanes lives in lanes()' per-lane values or in memory. Collectives and branches
// around them depend on lane-uniform values only.
//
// The GPU's warp is CudaWarp (cuda/launcher.cuh), the emulated one EmulatedWarp
// (emulated/launcher.h); SerialWarp below is the CPU's.
#pragma once

#include <cstdint>

#include "searnn_ext/macros.h"

namespace searnn {

constexpr int kWarpSize = 32;

// A candidate of an argmax: `index` < 0 marks "no candidate yet" (a lane with no elements).
template <typename Acc>
struct ArgMax {
  Acc value;
  int64_t index;
};

// The winner of two candidates in torch.argmax's order: NaN above every number, then the
// larger value, then the lower index. Symmetric, so every lane of a butterfly agrees.
template <typename Acc>
SEARNN_HOST_DEVICE_INLINE ArgMax<Acc> first_of(const ArgMax<Acc>& a, const ArgMax<Acc>& b) {
  if (a.index < 0 || b.index < 0) {
    return a.index < 0 ? b : a;
  }
  const bool a_nan = a.value != a.value, b_nan = b.value != b.value;
  if (a_nan != b_nan) {
    return a_nan ? a : b;
  }
  if (!a_nan && a.value != b.value) {
    return a.value > b.value ? a : b;
  }
  return a.index < b.index ? a : b;
}

// One lane doing a whole row: the CPU's portable path.
struct SerialWarp {
  SEARNN_HOST_DEVICE int size() const { return 1; }
  template <typename F>
  SEARNN_HOST_DEVICE auto lanes(F f) const {
    return f(0);
  }
  template <typename V>
  SEARNN_HOST_DEVICE V sum(V value) const {
    return value;
  }
  template <typename Acc>
  SEARNN_HOST_DEVICE ArgMax<Acc> best(ArgMax<Acc> value) const {
    return value;
  }
  SEARNN_HOST_DEVICE void sync() const {}
};

}  // namespace searnn
