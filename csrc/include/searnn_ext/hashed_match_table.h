// The match table of one reference (symbol, word index -> match word), built once and looked up
// per hypothesis symbol: the CPU's source of Myers' match words (on the GPU, see
// sorted_match_tables.h). Host only.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "searnn_ext/bit_parallel_edit_distance.h"

namespace searnn {

// Token ids below kDirectSymbols index a dense table (one load per lookup); larger or negative
// ids go to a small open-addressing hash table per 64-symbol block, so that any integer id works
// and memory stays linear in the reference length.
class HashedMatchTable {
 public:
  explicit HashedMatchTable(int64_t max_ref_length)
      : words_(words_for_length(max_ref_length)),
        direct_(static_cast<size_t>(kDirectSymbols * words_), 0),
        slot_symbols_(static_cast<size_t>(kSlotsPerBlock * words_), 0),
        slot_match_words_(static_cast<size_t>(kSlotsPerBlock * words_), 0),
        hashed_in_block_(static_cast<size_t>(words_), 0) {
    touched_.reserve(static_cast<size_t>(max_ref_length));
  }

  // Replaces the table's reference; costs O(previous length + new length), not O(table size).
  template <typename Token>
  void assign(const Token* ref, int64_t ref_length) {
    clear();
    for (int64_t i = 0; i < ref_length; ++i) {
      const int64_t w = i / kBitsPerWord;
      const uint64_t bit = uint64_t{1} << (i % kBitsPerWord);
      const int64_t symbol = static_cast<int64_t>(ref[i]);
      const int64_t entry = is_direct(symbol) ? direct_entry(symbol, w) : insert_slot(symbol, w);
      touched_.push_back(entry);
      match_word_at(entry) |= bit;
    }
  }

  uint64_t word(int64_t symbol, int64_t w) const {
    if (is_direct(symbol)) {
      return direct_[static_cast<size_t>(direct_entry(symbol, w))];
    }
    if (hashed_in_block_[static_cast<size_t>(w)] == 0) {
      return 0;
    }
    for (int64_t slot = first_slot(symbol);; slot = next_slot(slot)) {
      const size_t at = static_cast<size_t>(w * kSlotsPerBlock + slot);
      if (slot_match_words_[at] == 0) {
        return 0;  // An empty slot ends the probe: the symbol is not in this block.
      }
      if (slot_symbols_[at] == symbol) {
        return slot_match_words_[at];
      }
    }
  }

 private:
  static constexpr int64_t kDirectSymbols = 256;
  // Twice the most symbols a block holds, so that probes stay short.
  static constexpr int64_t kSlotsPerBlock = 2 * kBitsPerWord;
  // Entries past this offset in `touched_` are hash slots, below it direct cells.
  static constexpr int64_t kSlotOffset = int64_t{1} << 62;

  static bool is_direct(int64_t symbol) {
    return static_cast<uint64_t>(symbol) < static_cast<uint64_t>(kDirectSymbols);
  }
  int64_t direct_entry(int64_t symbol, int64_t w) const { return symbol * words_ + w; }
  static int64_t first_slot(int64_t symbol) {
    // Fibonacci hashing: the top bits of a multiplicative hash spread consecutive ids.
    return static_cast<int64_t>((static_cast<uint64_t>(symbol) * 0x9E3779B97F4A7C15ull) >> 57);
  }
  static int64_t next_slot(int64_t slot) { return (slot + 1) & (kSlotsPerBlock - 1); }

  // The slot holding `symbol` in block w, claimed if absent. Occupied slots have a nonzero match
  // word, so a claimed slot is marked at once by assign() setting its bit.
  int64_t insert_slot(int64_t symbol, int64_t w) {
    for (int64_t slot = first_slot(symbol);; slot = next_slot(slot)) {
      const int64_t at = w * kSlotsPerBlock + slot;
      if (slot_match_words_[static_cast<size_t>(at)] == 0) {
        slot_symbols_[static_cast<size_t>(at)] = symbol;
        ++hashed_in_block_[static_cast<size_t>(w)];
        return kSlotOffset + at;
      }
      if (slot_symbols_[static_cast<size_t>(at)] == symbol) {
        return kSlotOffset + at;
      }
    }
  }

  uint64_t& match_word_at(int64_t entry) {
    return entry >= kSlotOffset ? slot_match_words_[static_cast<size_t>(entry - kSlotOffset)]
                                : direct_[static_cast<size_t>(entry)];
  }

  void clear() {
    for (const int64_t entry : touched_) {
      match_word_at(entry) = 0;
    }
    touched_.clear();
    std::fill(hashed_in_block_.begin(), hashed_in_block_.end(), 0);
  }

  int64_t words_;
  std::vector<uint64_t> direct_;            // [kDirectSymbols][words_]
  std::vector<int64_t> slot_symbols_;       // [words_][kSlotsPerBlock]
  std::vector<uint64_t> slot_match_words_;  // [words_][kSlotsPerBlock]; 0 marks an empty slot
  std::vector<int64_t> hashed_in_block_;
  std::vector<int64_t> touched_;  // entries set by the last assign(), to clear them cheaply
};

}  // namespace searnn
