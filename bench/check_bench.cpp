// `kmrc check` on a generated 20,000-declaration script: wall time and peak memory
// (targets: under 1 s and under 200 MB on the 2-core CI machine), and the time as a ratio
// to merely reading the file.
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "compiler/driver/compilation.h"

namespace {

// Ten declarations per group, of every kind a real policy has.
std::string generate(int declarations) {
  std::ostringstream out;
  out << "import \"std/prune\";\nimport \"std/quant\";\n"
         "model base = load(\"examples/fashion_mnist/mlp.safetensors\", arch = mlp(act = relu));\n"
         "data test = fashion_mnist(\"test\");\n";
  for (int i = 0; i * 10 < declarations; ++i) {
    out << fmt::format(
        "knob s{0} : ratio in [0%, 90%] step 5% = 0%;\n"
        "knob b{0} : int in {{8, 6, 4, 3, 2}} = 8;\n"
        "rule p{0} = magnitude_prune(s{0}) on base.match(\"fc*.weight\");\n"
        "rule q{0} = quantize(b{0}, group = 64) on base.match(\"fc*.weight\");\n"
        "pipeline m{0} = base |> p{0} |> q{0};\n"
        "meter size{0} : bytes = encoded_size(m{0});\n"
        "meter acc{0} : ratio = top1(m{0}, test);\n"
        "budget size{0} <= 96 KiB + {0} B;\n"
        "require acc{0} >= top1(base, test) - 1%;\n"
        "kernel k{0}(w: tensor, s: ratio) -> tensor {{\n"
        "  let t = quantile(abs(w), s, over = all);\n"
        "  yield select(abs(w) >= t, w * 2.0 - 1.0, 0.0);\n"
        "}}\n",
        i);
  }
  return out.str();
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  const int declarations = argc > 1 ? std::atoi(argv[1]) : 20000;
  std::string path = fmt::format("/tmp/kmr-check-bench-{}.kmr", ::getpid());
  std::string text = generate(declarations);
  std::ofstream(path, std::ios::binary) << text;

  auto start = std::chrono::steady_clock::now();
  std::string copy, error;
  (void)kmr::driver::read_source_file(path, 1u << 30, copy, error);
  double read_time = seconds_since(start);

  start = std::chrono::steady_clock::now();
  size_t errors = 0;
  {
    kmr::driver::Compilation compilation;
    if (kmr::driver::parse_program(path, compilation)) kmr::driver::check_program(compilation);
    errors = compilation.diagnostics.error_count();
  }
  double check_time = seconds_since(start);
  std::remove(path.c_str());

  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  double peak_mb = static_cast<double>(usage.ru_maxrss) / 1024.0;
  fmt::print("kmrc check, {} declarations ({:.1f} MB of source), run from the project root\n", declarations,
             static_cast<double>(text.size()) / 1e6);
  fmt::print("  errors reported     {}\n", errors);
  fmt::print("  wall time           {:.3f} s   (target < 1 s)\n", check_time);
  fmt::print("  throughput          {:.0f} declarations/s\n", declarations / check_time);
  fmt::print("  peak memory (RSS)   {:.1f} MB  (target < 200 MB)\n", peak_mb);
  fmt::print("  vs reading the file {:.0f}x the time of a plain read ({:.4f} s)\n", check_time / read_time, read_time);
  return 0;
}
