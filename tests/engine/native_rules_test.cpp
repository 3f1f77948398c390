// Native rules inside pipelines: low-rank factors stored and counted as such, distillation
// and LoRA as whole-model steps, and an embedding host's meters, rules and data.
#include <doctest/doctest.h>

#include <sstream>

#include <cmath>

#include "engine_fixture.h"
#include "runtime/engine/host_extensions.h"
#include "runtime/engine/trial_evaluator.h"
#include "runtime/engine/weight_meters.h"
#include "runtime/low_rank_tensor.h"
#include "runtime/fashion_mnist.h"

namespace kmr::engine {
namespace {

// Debian's dataset-fashion-mnist: the training rules need it; skip quietly without.
bool have_data() { return runtime::check_fashion_mnist("train").ok() && runtime::check_fashion_mnist("test").ok(); }

std::unique_ptr<driver::Compilation> compile_with_natives(const std::string& body) {
  return test::compile_policy("import \"std/lowrank\";\nimport \"std/distill\";\n" + body);
}

// A program with native rules, evaluated on the JIT, its training progress captured.
struct Evaluation {
  std::unique_ptr<driver::Compilation> compilation;
  ModelStore store;
  KnobSpace space;
  std::ostringstream progress;
  std::unique_ptr<TrialEvaluator> evaluator;

  explicit Evaluation(const std::string& body) : compilation(compile_with_natives(body)) {
    space = build_knob_space(compilation->program).value();
    evaluator = TrialEvaluator::create(compilation->program, *compilation->modules.front(), store, space,
                                       test::jit_kernels(), nullptr, &progress)
                    .value();
  }
};

TEST_CASE("lowrank stores two factors, counted by the meters, and full rank reproduces the weight") {
  auto compilation = compile_with_natives(
      "knob rank : int in {8, 128} = 128;\n"
      "rule factor = lowrank(rank) on base.match(\"fc2.weight\");\n"
      "pipeline f = base |> factor;\n");
  ModelStore store;
  KnobSpace space = build_knob_space(compilation->program).value();
  auto runner = PipelineRunner::create(compilation->program, "f", store, space, test::jit_kernels()).value();
  auto base = PipelineRunner::create(compilation->program, "base", store, space, test::jit_kernels()).value()->run(space.defaults());
  REQUIRE(base.ok());

  auto full = runner->run(space.defaults());
  REQUIRE(full.ok());
  const TensorResult* fc2 = full->find("fc2.weight");
  REQUIRE(fc2->encoding == Encoding::LowRank);
  REQUIRE(static_cast<bool>(fc2->low_rank));
  CHECK(fc2->low_rank->rank == 128);
  CHECK(fc2->encoded_bytes == 4u * 128 * (128 + 256));
  CHECK(fc2->encoded_bytes == runtime::encoded_bytes(*fc2->low_rank));
  const auto& original = *base->find("fc2.weight")->values;
  double err = 0, norm = 0;
  for (size_t i = 0; i < original.size(); ++i) {
    err += std::pow(double((*fc2->values)[i]) - original[i], 2);
    norm += std::pow(double(original[i]), 2);
  }
  CHECK(std::sqrt(err / norm) < 1e-5);

  Configuration low = space.defaults();
  low[0] = 0;  // rank 8
  auto factored = runner->run(low);
  REQUIRE(factored.ok());
  const TensorResult* small = factored->find("fc2.weight");
  CHECK(small->encoded_bytes == 4u * 8 * (128 + 256));
  // Meters count the factors: 8 x (128 + 256) parameters and their multiply-adds.
  CHECK(param_count(*factored) == param_count(*base) - 128 * 256 + 8 * (128 + 256));
  CHECK(forward_flops(*factored) < forward_flops(*base));
}

TEST_CASE("a kernel after lowrank transforms each factor; the quantized factors are what is stored and counted") {
  // Before, quantize left the factors in F32 and a note said so.
  auto compilation = compile_with_natives(
      "knob bits : int in {8, 4} = 8;\n"
      "rule factor = lowrank(16) on base.match(\"fc1.weight\");\n"
      "rule quant = quantize(bits) on base.match(\"fc*.weight\");\n"
      "pipeline plain = base |> factor;\n"
      "pipeline f = base |> factor |> quant;\n");
  ModelStore store;
  KnobSpace space = build_knob_space(compilation->program).value();
  auto runner = PipelineRunner::create(compilation->program, "f", store, space, test::jit_kernels()).value();
  auto model = runner->run(space.defaults());
  REQUIRE(model.ok());
  CHECK(runner->notes().empty());
  const TensorResult* fc1 = model->find("fc1.weight");
  REQUIRE(fc1->encoding == Encoding::LowRank);
  const runtime::LowRankTensor& factored = *fc1->low_rank;
  REQUIRE(factored.u_quantized.has_value());
  REQUIRE(factored.v_quantized.has_value());
  CHECK(factored.u_quantized->name == "fc1.weight_u.weight");
  CHECK(factored.u_quantized->bits == 8);
  CHECK(factored.u_quantized->shape == std::vector<int64_t>{256, 16});
  CHECK(factored.v_quantized->shape == std::vector<int64_t>{16, 784});
  CHECK(factored.u == runtime::dequantize(*factored.u_quantized));
  CHECK(*fc1->values == runtime::dequantize(factored));
  CHECK(fc1->encoded_bytes == runtime::encoded_bytes(factored));
  CHECK(model->find("fc2.weight")->encoding == Encoding::Quantized);

  // Int8 factors take about a quarter of the F32 ones, and 4 bits less again.
  auto plain = PipelineRunner::create(compilation->program, "plain", store, space, test::jit_kernels()).value();
  auto f32_factors = plain->run(space.defaults());
  REQUIRE(f32_factors.ok());
  CHECK(fc1->encoded_bytes < f32_factors->find("fc1.weight")->encoded_bytes / 3);
  Configuration four = space.defaults();
  four[0] = 1;
  auto narrower = runner->run(four);
  REQUIRE(narrower.ok());
  CHECK(narrower->find("fc1.weight")->encoded_bytes < fc1->encoded_bytes);
  CHECK(narrower->find("fc1.weight")->low_rank->u_quantized->bits == 4);
  CHECK(param_count(*narrower) == param_count(*model));
}

TEST_CASE("distill trains a student whose tensors the next rules transform; results are cached per knob values") {
  if (!have_data()) return;
  Evaluation e(
      "data train = fashion_mnist(\"train\", limit = 4000);\n"
      "data test = fashion_mnist(\"test\", limit = 1000);\n"
      "knob width : int in {16, 32} = 32;\n"
      "rule student = distill(base, hidden = [width * 2, width], temperature = 2.0, alpha = 0.5, epochs = 2, data = train, lr = 0.003);\n"
      "rule quant = quantize(8) on match(\"fc*.weight\");\n"
      "pipeline small = base |> student |> quant;\n"
      "meter size : bytes = encoded_size(small);\n"
      "meter acc : ratio = top1(small, test);\n");
  auto wide = e.evaluator->materialize("small", e.space.defaults());
  REQUIRE(wide.ok());
  // Training shows each epoch on the progress stream, one redrawn line.
  CHECK(e.progress.str().find("rule 'student': epoch 1/2, loss ") != std::string::npos);
  CHECK(e.progress.str().find("rule 'student': epoch 2/2, loss ") != std::string::npos);
  CHECK(e.progress.str().find("\r\x1b[K") != std::string::npos);
  CHECK(wide->find("fc1.weight")->shape == std::vector<int64_t>{64, 784});
  CHECK(wide->find("fc2.weight")->shape == std::vector<int64_t>{32, 64});
  CHECK(wide->find("fc3.weight")->encoding == Encoding::Quantized);
  auto trial = e.evaluator->evaluate(e.space.defaults());
  REQUIRE(trial.ok());
  CHECK(*trial->meter("acc") > 0.6);  // two epochs on 4000 images: far above chance (0.1)
  Configuration narrow = e.space.defaults();
  narrow[0] = 0;
  auto thin = e.evaluator->materialize("small", narrow);
  REQUIRE(thin.ok());
  CHECK(thin->find("fc2.weight")->shape == std::vector<int64_t>{16, 32});
  CHECK(encoded_size(*thin) < encoded_size(*wide));
}

TEST_CASE("lora adds adapters beside the base and recovers accuracy lost to 2-bit weights") {
  if (!have_data()) return;
  Evaluation e(
      "data train = fashion_mnist(\"train\", limit = 4000);\n"
      "data test = fashion_mnist(\"test\", limit = 1000);\n"
      "rule quant = quantize(2) on base.match(\"fc*.weight\");\n"
      "rule adapt = lora(rank = 4, data = train, steps = 150, lr = 0.003);\n"
      "pipeline q = base |> quant;\n"
      "pipeline tuned = base |> quant |> adapt;\n"
      "meter before : ratio = top1(q, test);\n"
      "meter after : ratio = top1(tuned, test);\n");
  auto tuned = e.evaluator->materialize("tuned", e.space.defaults());
  REQUIRE(tuned.ok());
  CHECK(e.progress.str().find("rule 'adapt': step 150/150, loss ") != std::string::npos);
  CHECK(tuned->find("fc1.weight")->encoding == Encoding::Quantized);
  REQUIRE(tuned->find("fc1.lora_A.weight") != nullptr);
  CHECK(tuned->find("fc1.lora_A.weight")->shape == std::vector<int64_t>{4, 784});
  CHECK(tuned->find("fc1.lora_B.weight")->shape == std::vector<int64_t>{256, 4});
  auto trial = e.evaluator->evaluate(e.space.defaults());
  REQUIRE(trial.ok());
  CHECK(*trial->meter("after") > *trial->meter("before"));
}

TEST_CASE("an embedding host's meter, rule and data set run inside a trial") {
  auto compilation = test::compile_policy(
      "native kernel halve(w: tensor, factor: float) -> tensor;\n"
      "knob f : float in {0.5, 1.0} = 1.0;\n"
      "rule h = halve(f) on base.match(\"fc3.weight\");\n"
      "pipeline p = base |> h;\n"
      "meter size : bytes = encoded_size(p);\n"
      "meter ratio_kept : float = size / encoded_size(base);\n");
  HostExtensions host;
  host.tensor_rules["halve"] = [](const HostTensorRuleCall& call) -> Expected<std::vector<float>> {
    std::vector<float> out(call.values);
    for (float& v : out) v *= static_cast<float>(call.args.at(0));
    return out;
  };
  ModelStore store;
  KnobSpace space = build_knob_space(compilation->program).value();
  auto evaluator = TrialEvaluator::create(compilation->program, *compilation->modules.front(), store, space,
                                          test::jit_kernels(), &host)
                       .value();
  Configuration half = space.defaults();
  half[0] = 0;
  auto model = evaluator->materialize("p", half);
  REQUIRE(model.ok());
  auto base = evaluator->materialize("base", half);
  const auto& scaled = *model->find("fc3.weight")->values;
  const auto& original = *base->find("fc3.weight")->values;
  for (size_t i = 0; i < scaled.size(); ++i) CHECK(scaled[i] == original[i] * 0.5f);
  CHECK(*model->find("fc1.weight")->values == *base->find("fc1.weight")->values);

  host.tensor_rules["halve"] = [](const HostTensorRuleCall&) -> Expected<std::vector<float>> {
    return std::vector<float>(3);
  };
  Configuration again = space.defaults();
  auto wrong = evaluator->materialize("p", again);
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().message.find("returned 3 values for 1280 elements") != std::string::npos);
}

}  // namespace
}  // namespace kmr::engine
