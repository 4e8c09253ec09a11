// A warp for tests whose 32 lanes are real threads, each running the whole functor body on its
// own stack, as on a GPU (EmulatedWarp instead runs the body once, with each lanes() phase
// looping over the lanes). Between two collectives (sum, best, sync) the lanes run one at a time
// in a chosen order. A lane that reads another lane's write without a collective in between
// sees it under one order and not under another: run a functor under two orders, and a missing
// sync() changes the answer.
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "searnn_ext/warp.h"

namespace searnn {

class SimtSchedule {
 public:
  explicit SimtSchedule(const std::array<int, kWarpSize>& order) : order_(order) {}

  void start(int lane) {
    std::unique_lock<std::mutex> lock(mutex_);
    turn_of_[lane].wait(lock, [&] { return broken_ || order_[turn_] == lane; });
  }

  // The lane's operand joins the others; the last lane of the segment combines them as the
  // GPU's butterfly does, and every lane resumes, in order, with its result.
  template <typename V, typename Combine>
  V collective(int lane, const V& value, const Combine& combine) {
    static_assert(sizeof(V) <= sizeof(Slot), "a collective's operand fits a slot");
    std::unique_lock<std::mutex> lock(mutex_);
    if (broken_) {
      return value;
    }
    std::memcpy(slots_[lane].data(), &value, sizeof(V));
    const int64_t generation = generation_;
    if (end_turn()) {
      if (exited_ > 0) {
        set_broken();  // a full-warp collective after some lanes returned
      }
      butterfly<V>(combine);
    }
    turn_of_[lane].wait(lock, [&] {
      return broken_ || (generation_ != generation && order_[turn_] == lane);
    });
    V result;
    std::memcpy(&result, slots_[lane].data(), sizeof(V));
    return result;
  }

  void exit() {
    std::unique_lock<std::mutex> lock(mutex_);
    ++exited_;
    if (end_turn() && exited_ < kWarpSize) {
      set_broken();  // lanes wait in a collective that the others never reach
    }
  }

  bool broken() const { return broken_; }

 private:
  using Slot = std::array<unsigned char, 16>;

  // Passes the turn on and wakes the lane whose turn it is (only that one: waking all 32 at each
  // turn made the tests' threads spend most of their time in the kernel); true when every lane
  // has had its turn in this segment.
  bool end_turn() {
    const bool last = ++turn_ == kWarpSize;
    if (last) {
      turn_ = 0;
      ++generation_;
    }
    turn_of_[order_[turn_]].notify_one();
    return last;
  }

  void set_broken() {
    broken_ = true;
    for (std::condition_variable& turn : turn_of_) {
      turn.notify_one();
    }
  }

  template <typename V, typename Combine>
  void butterfly(const Combine& combine) {
    for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
      std::array<V, kWarpSize> next;
      for (int lane = 0; lane < kWarpSize; ++lane) {
        V mine, other;
        std::memcpy(&mine, slots_[lane].data(), sizeof(V));
        std::memcpy(&other, slots_[lane ^ offset].data(), sizeof(V));
        next[lane] = combine(mine, other);
      }
      for (int lane = 0; lane < kWarpSize; ++lane) {
        std::memcpy(slots_[lane].data(), &next[lane], sizeof(V));
      }
    }
  }

  const std::array<int, kWarpSize> order_;
  std::array<Slot, kWarpSize> slots_{};
  std::mutex mutex_;
  std::array<std::condition_variable, kWarpSize> turn_of_;  // lane i waits on turn_of_[i]
  int turn_ = 0, exited_ = 0;
  int64_t generation_ = 0;
  bool broken_ = false;
};

struct SimtWarp {
  int lane;
  SimtSchedule* schedule;

  int size() const { return kWarpSize; }
  template <typename F>
  auto lanes(F f) const {
    return f(lane);
  }
  template <typename V>
  V sum(V value) const {
    return schedule->collective(lane, value, std::plus<V>());
  }
  template <typename Acc>
  ArgMax<Acc> best(ArgMax<Acc> value) const {
    return schedule->collective(lane, value, [](const ArgMax<Acc>& a, const ArgMax<Acc>& b) {
      return first_of(a, b);
    });
  }
  void sync() const { schedule->collective(lane, 0, std::plus<int>()); }
};

inline std::array<int, kWarpSize> ascending_lanes() {
  std::array<int, kWarpSize> order;
  for (int lane = 0; lane < kWarpSize; ++lane) order[lane] = lane;
  return order;
}

inline std::array<int, kWarpSize> descending_lanes() {
  std::array<int, kWarpSize> order;
  for (int lane = 0; lane < kWarpSize; ++lane) order[lane] = kWarpSize - 1 - lane;
  return order;
}

// Runs body(warp, warp_index) on 32 lane threads scheduled in `order`; false when a collective
// was reached by only some of the lanes.
template <typename Body>
bool run_simt_warp(const Body& body, int64_t warp_index, const std::array<int, kWarpSize>& order) {
  SimtSchedule schedule(order);
  std::vector<std::thread> lanes;
  for (int lane = 0; lane < kWarpSize; ++lane) {
    lanes.emplace_back([&, lane] {
      schedule.start(lane);
      body(SimtWarp{lane, &schedule}, warp_index);
      schedule.exit();
    });
  }
  for (std::thread& lane : lanes) {
    lane.join();
  }
  return !schedule.broken();
}

}  // namespace searnn
