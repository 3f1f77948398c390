// Pipelines materialised over the baseline model: exact sparsity, quantized sizes equal to
// the layout's bytes, the per-tensor cache, and the weight meters.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "engine_fixture.h"
#include "runtime/engine/pipeline_runner.h"
#include "runtime/engine/weight_meters.h"

namespace kmr::engine {
namespace {

const char* kQuickstart =
    "knob sparsity : ratio in [0%, 90%] step 5% = 0%;\n"
    "knob bits : int in {8, 6, 4, 3, 2} = 8;\n"
    "rule prune = magnitude_prune(sparsity) on base.match(\"fc*.weight\");\n"
    "rule quant = quantize(bits, group = 64) on base.match(\"fc*.weight\");\n"
    "pipeline small = base |> prune |> quant;\n"
    "pipeline pruned = base |> prune;\n";

struct Fixture {
  std::unique_ptr<driver::Compilation> compilation = test::compile_policy(kQuickstart);
  ModelStore store;
  KnobSpace space = build_knob_space(compilation->program).value();

  std::unique_ptr<PipelineRunner> runner(const std::string& name,
                                         codegen::KernelEngine& kernels = test::jit_kernels()) {
    auto runner = PipelineRunner::create(compilation->program, name, store, space, kernels);
    INFO((runner.ok() ? std::string() : runner.error().message));
    REQUIRE(runner.ok());
    return std::move(*runner);
  }
  Configuration config(double sparsity_value, double bits_value) {
    Configuration config = space.defaults();
    for (size_t i = 0; i < space.slots[0].values.size(); ++i)
      if (std::abs(space.slots[0].values[i] - sparsity_value) < 1e-9) config[0] = i;
    for (size_t i = 0; i < space.slots[1].values.size(); ++i)
      if (space.slots[1].values[i] == bits_value) config[1] = i;
    return config;
  }
};

TEST_CASE("the baseline model materialises unchanged and dense") {
  Fixture f;
  auto base = f.runner("base")->run(f.space.defaults());
  REQUIRE(base.ok());
  CHECK(param_count(*base) == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10);
  CHECK(encoded_size(*base) == static_cast<uint64_t>(param_count(*base)) * 4);
  // The baseline was trained with L1 shrinkage, so some weights are exactly zero and a
  // sparse kernel skips them: two FLOPs per non-zero weight, one per bias element.
  const int64_t biases = 256 + 128 + 10;
  const int64_t nonzero_weights = nonzero_count(*base) - biases;  // no bias is exactly zero
  CHECK(nonzero_weights < 784 * 256 + 256 * 128 + 128 * 10);
  CHECK(forward_flops(*base) == doctest::Approx(2.0 * static_cast<double>(nonzero_weights) + biases));
}

TEST_CASE("magnitude pruning zeroes exactly round(s * n) weights of each selected tensor") {
  Fixture f;
  auto runner = f.runner("pruned");
  auto model = runner->run(f.config(0.5, 8));
  REQUIRE(model.ok());
  for (const char* name : {"fc1.weight", "fc2.weight", "fc3.weight"}) {
    const TensorResult* tensor = model->find(name);
    REQUIRE(tensor != nullptr);
    CAPTURE(name);
    CHECK(tensor->numel - tensor->nonzeros == (tensor->numel + 1) / 2);
    CHECK(tensor->encoding == Encoding::Sparse);
  }
  CHECK(model->find("fc1.bias")->transformed == false);
}

TEST_CASE("quantized tensors are sized by the compressed layout, and 4 bits is about half of 8") {
  Fixture f;
  auto runner = f.runner("small");
  auto eight = runner->run(f.config(0.0, 8));
  auto four = runner->run(f.config(0.0, 4));
  REQUIRE(eight.ok());
  REQUIRE(four.ok());
  const TensorResult* q8 = eight->find("fc1.weight");
  const TensorResult* q4 = four->find("fc1.weight");
  REQUIRE(static_cast<bool>(q8->quantized));
  CHECK(q8->encoding == Encoding::Quantized);
  CHECK(q8->encoded_bytes == runtime::encoded_bytes(*q8->quantized));
  CHECK(q4->encoded_bytes < q8->encoded_bytes * 6 / 10);
  CHECK(encoded_size(*four) < encoded_size(*eight));
  // The error of 4-bit codes is larger than of 8-bit ones, and both are small.
  auto base = f.runner("base")->run(f.space.defaults());
  double e8 = relative_error(*eight, *base).value(), e4 = relative_error(*four, *base).value();
  CHECK(e8 < e4);
  CHECK(e4 < 0.2);
  CHECK(e8 > 0);
}

TEST_CASE("a quantized result decodes its values on the first read, once for all its copies") {
  Fixture f;
  auto runner = f.runner("small");
  auto model = runner->run(f.config(0.0, 4));
  REQUIRE(model.ok());
  const TensorResult* q = model->find("fc1.weight");
  REQUIRE(static_cast<bool>(q->values));
  CHECK(q->values.pending());  // sizing and saving need only the codes
  TensorResult copy = *q;
  CHECK(*copy.values == runtime::dequantize(*q->quantized));
  CHECK_FALSE(q->values.pending());
  int64_t nonzeros = 0;
  for (float v : *q->values) nonzeros += v != 0.0f;
  CHECK(q->nonzeros == nonzeros);
  // The runner's cache holds the same result: a repeated trial finds it decoded.
  auto again = runner->run(f.config(0.0, 4));
  REQUIRE(again.ok());
  CHECK_FALSE(again->find("fc1.weight")->values.pending());
}

TEST_CASE("values decoded on use: one decode however many threads read at once") {
  std::atomic<int> decodes{0};
  TensorValues values = TensorValues::decoded_on_use([&] {
    ++decodes;
    return std::vector<float>(1000, 0.5f);
  });
  TensorValues copy = values;
  std::vector<std::thread> readers;
  std::atomic<int> complete{0};
  for (int t = 0; t < 4; ++t)
    readers.emplace_back([&, t] {
      const TensorValues& mine = t % 2 ? values : copy;
      if (mine->size() == 1000 && (*mine)[999] == 0.5f) ++complete;
    });
  for (auto& reader : readers) reader.join();
  CHECK(decodes == 1);
  CHECK(complete == 4);
  CHECK(values->size() == 1000);
  CHECK_FALSE(static_cast<bool>(TensorValues()));
}

TEST_CASE("the JIT and the interpreter materialise the same model: codes, scales and sizes") {
  Fixture f;
  auto jit = f.runner("small", test::jit_kernels());
  auto interpreted = f.runner("small", test::interpreter_kernels());
  for (auto [sparsity, bits] : {std::pair{0.0, 8.0}, {0.5, 4.0}, {0.85, 3.0}}) {
    CAPTURE(sparsity);
    CAPTURE(bits);
    auto a = jit->run(f.config(sparsity, bits));
    auto b = interpreted->run(f.config(sparsity, bits));
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    for (const char* name : {"fc1.weight", "fc2.weight", "fc3.weight"}) {
      CAPTURE(name);
      const TensorResult* x = a->find(name);
      const TensorResult* y = b->find(name);
      REQUIRE(static_cast<bool>(x->quantized));
      REQUIRE(static_cast<bool>(y->quantized));
      CHECK(x->quantized->codes == y->quantized->codes);
      CHECK(x->quantized->scales == y->quantized->scales);
      CHECK(x->encoded_bytes == y->encoded_bytes);
      CHECK(x->nonzeros == y->nonzeros);
    }
  }
}

TEST_CASE("a trial that repeats a configuration runs no kernel again") {
  Fixture f;
  auto runner = f.runner("small");
  REQUIRE(runner->run(f.config(0.25, 4)).ok());
  size_t runs = runner->kernel_runs();
  CHECK(runs == 3);  // one fused kernel per weight tensor
  REQUIRE(runner->run(f.config(0.25, 4)).ok());
  CHECK(runner->kernel_runs() == runs);
  REQUIRE(runner->run(f.config(0.25, 2)).ok());
  CHECK(runner->kernel_runs() == runs + 3);
}

TEST_CASE("a knob family recomputes only the tensor whose knob changed") {
  auto compilation = test::compile_policy(
      "knob bits[t in base.match(\"fc*.weight\")] : int in {8, 4, 2} = 8;\n"
      "rule quant = quantize(bits, group = 32) on base.match(\"fc*.weight\");\n"
      "pipeline q = base |> quant;\n");
  ModelStore store;
  KnobSpace space = build_knob_space(compilation->program).value();
  auto runner = PipelineRunner::create(compilation->program, "q", store, space, test::jit_kernels()).value();
  Configuration config = space.defaults();
  auto all_eight = runner->run(config);
  REQUIRE(all_eight.ok());
  CHECK(runner->kernel_runs() == 3);
  config[space.find("bits", "fc2.weight")] = 2;  // 2 bits for fc2 only
  auto mixed = runner->run(config);
  REQUIRE(mixed.ok());
  CHECK(runner->kernel_runs() == 4);
  CHECK(mixed->find("fc2.weight")->quantized->bits == 2);
  CHECK(mixed->find("fc1.weight")->quantized->bits == 8);
}

}  // namespace
}  // namespace kmr::engine
