// The float values of one tensor of a materialised model, held or decoded on first use.
//
// A quantized tensor's values are its codes times its scales: a copy as large as the
// dense tensor (1 GiB for a 1 GiB checkpoint) that only meters and later pipeline steps
// read. A run that just compresses and saves never decodes them; one that measures decodes
// each result once, whichever trial or thread asks first.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace kmr::engine {

class TensorValues {
 public:
  using Decode = std::function<std::vector<float>()>;

  /// No values: a tensor that is not made of floats.
  TensorValues() = default;
  /// Values already at hand (implicit, so a result's values are assigned a pointer).
  TensorValues(std::shared_ptr<const std::vector<float>> values) : state_(std::make_shared<State>()) {
    state_->values = std::move(values);
    std::call_once(state_->once, [] {});
    state_->ready = true;
  }
  TensorValues(std::shared_ptr<std::vector<float>> values)
      : TensorValues(std::shared_ptr<const std::vector<float>>(std::move(values))) {}
  /// Values computed by `decode` when first read (it must not throw).
  static TensorValues decoded_on_use(Decode decode) {
    TensorValues out;
    out.state_ = std::make_shared<State>();
    out.state_->decode = std::move(decode);
    return out;
  }

  /// Whether the tensor has float values (decoded or not yet).
  explicit operator bool() const { return state_ != nullptr; }
  /// Whether reading them would decode now (tests and statistics).
  bool pending() const { return state_ && !state_->ready; }

  /// The values, decoding them on the first read. Precondition: bool(*this).
  const std::vector<float>& operator*() const { return *get(); }
  const std::vector<float>* operator->() const { return get().get(); }
  /// A pointer that keeps the values alive on its own.
  const std::shared_ptr<const std::vector<float>>& get() const {
    std::call_once(state_->once, [this] {
      state_->values = std::make_shared<const std::vector<float>>(state_->decode());
      state_->decode = nullptr;  // frees what the decoder captured
      state_->ready = true;
    });
    return state_->values;
  }

 private:
  struct State {
    std::once_flag once;
    std::atomic<bool> ready{false};  // read without the once_flag (pending())
    Decode decode;
    std::shared_ptr<const std::vector<float>> values;
  };
  // Shared by every copy of a result (the runner's cache and the models made from it),
  // so a tensor is decoded at most once.
  std::shared_ptr<State> state_;
};

}  // namespace kmr::engine
