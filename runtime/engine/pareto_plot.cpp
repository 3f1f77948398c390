// SVG by hand: the plot is a few dozen elements, not worth a plotting dependency.
#include "runtime/engine/pareto_plot.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <fmt/format.h>

namespace kmr::engine {
namespace {

constexpr double kWidth = 640, kHeight = 420;
constexpr double kLeft = 80, kRight = 20, kTop = 30, kBottom = 60;

// Text inside SVG is XML: labels come from the script and may hold <, > or &.
std::string escape_xml(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// Maps [lo, hi] onto [from, to]; a degenerate range maps to the middle.
struct Axis {
  double lo, hi, from, to;
  double operator()(double v) const { return hi > lo ? from + (v - lo) / (hi - lo) * (to - from) : (from + to) / 2; }
};

}  // namespace

std::string pareto_svg(const SearchOutcome& outcome, const std::string& cost_label, const std::string& objective_label) {
  struct Point {
    size_t trial;
    double cost, objective;
  };
  std::vector<Point> points;
  for (size_t i = 0; i < outcome.trials.size(); ++i) {
    auto cost = pareto_cost(outcome.trials[i]);
    const auto& objective = outcome.trials[i].objective;
    if (cost && objective && std::isfinite(*cost) && std::isfinite(*objective))
      points.push_back({i, *cost, *objective});
  }

  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n",
      kWidth, kHeight);
  double x0 = kLeft, x1 = kWidth - kRight, y0 = kHeight - kBottom, y1 = kTop;
  svg += fmt::format("<path d=\"M{} {} V{} H{}\" fill=\"none\" stroke=\"black\"/>\n", x0, y1, y0, x1);
  svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", (x0 + x1) / 2, kHeight - 15,
                     escape_xml(cost_label));
  svg += fmt::format("<text transform=\"translate(18 {}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
                     (y0 + y1) / 2, escape_xml(objective_label));
  if (points.empty())
    return svg + fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">no trial has both a cost and an "
                             "objective</text>\n</svg>\n",
                             (x0 + x1) / 2, (y0 + y1) / 2);

  auto [cmin, cmax] = std::minmax_element(points.begin(), points.end(),
                                          [](const Point& a, const Point& b) { return a.cost < b.cost; });
  auto [omin, omax] = std::minmax_element(points.begin(), points.end(),
                                          [](const Point& a, const Point& b) { return a.objective < b.objective; });
  Axis x{cmin->cost, cmax->cost, x0 + 10, x1 - 10};
  Axis y{omin->objective, omax->objective, y0 - 10, y1 + 10};
  // Tick labels at both ends of each axis: enough to read the ranges off the plot.
  svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{:.4g}</text>\n", x(cmin->cost), y0 + 18, cmin->cost);
  svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{:.4g}</text>\n", x(cmax->cost), y0 + 18, cmax->cost);
  svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{:.4g}</text>\n", x0 - 6, y(omin->objective) + 4,
                     omin->objective);
  svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{:.4g}</text>\n", x0 - 6, y(omax->objective) + 4,
                     omax->objective);

  for (const Point& p : points) {
    const char* fill = outcome.trials[p.trial].feasible ? "#1f77b4" : "#bbbbbb";
    svg += fmt::format("<circle cx=\"{:.2f}\" cy=\"{:.2f}\" r=\"3\" fill=\"{}\"><title>trial {}: {:.6g}, {:.6g}</title>"
                       "</circle>\n",
                       x(p.cost), y(p.objective), fill, p.trial, p.cost, p.objective);
  }
  std::string line;
  for (size_t index : outcome.frontier)
    for (const Point& p : points)
      if (p.trial == index) line += fmt::format("{}{:.2f} {:.2f}", line.empty() ? "M" : " L", x(p.cost), y(p.objective));
  if (!line.empty()) svg += fmt::format("<path d=\"{}\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\"/>\n", line);
  if (outcome.chosen)
    for (const Point& p : points)
      if (p.trial == *outcome.chosen)
        svg += fmt::format("<circle cx=\"{:.2f}\" cy=\"{:.2f}\" r=\"7\" fill=\"none\" stroke=\"black\"/>\n", x(p.cost),
                           y(p.objective));
  svg += fmt::format("<text x=\"{}\" y=\"18\">blue: feasible, grey: infeasible, red: frontier, ring: chosen</text>\n", x0);
  return svg + "</svg>\n";
}

}  // namespace kmr::engine
