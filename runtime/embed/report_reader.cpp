// Reading the report JSON defensively: every field is checked for its type before use.
#include "runtime/embed/report_reader.h"

namespace kmr::embed {
namespace {

using Json = nlohmann::ordered_json;

const Json* field(const Json& object, const char* name) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(name);
  return it == object.end() ? nullptr : &*it;
}

double number(const Json& object, const char* name) {
  const Json* value = field(object, name);
  return value && value->is_number() ? value->get<double>() : 0.0;
}

std::string text(const Json& object, const char* name) {
  const Json* value = field(object, name);
  return value && value->is_string() ? value->get<std::string>() : std::string();
}

bool flag(const Json& object, const char* name) {
  const Json* value = field(object, name);
  return value && value->is_boolean() && value->get<bool>();
}

// An object of numbers, in its order ({"size": 1024, "acc": 0.9}).
NamedValues named_values(const Json* object) {
  NamedValues out;
  if (object == nullptr || !object->is_object()) return out;
  for (const auto& [name, value] : object->items())
    if (value.is_number()) out.emplace_back(name, value.get<double>());
  return out;
}

Trial read_trial(const Json& json) {
  Trial trial;
  trial.index = static_cast<size_t>(number(json, "index"));
  trial.knobs = named_values(field(json, "knobs"));
  trial.meters = named_values(field(json, "meters"));
  if (const Json* constraints = field(json, "constraints"); constraints && constraints->is_array())
    for (const auto& c : *constraints)
      trial.constraints.push_back(ConstraintResult{text(c, "kind"), text(c, "constraint"), number(c, "lhs"),
                                                   number(c, "rhs"), flag(c, "holds")});
  if (const Json* objective = field(json, "objective"); objective && objective->is_number())
    trial.objective = objective->get<double>();
  trial.feasible = flag(json, "feasible");
  trial.seconds = number(json, "seconds");
  return trial;
}

}  // namespace

Report read_report(const Json& json) {
  Report report;
  report.policy = text(json, "policy");
  report.baseline = named_values(field(json, "baseline"));
  if (const Json* trials = field(json, "trials"); trials && trials->is_array())
    for (const auto& trial : *trials) report.trials.push_back(read_trial(trial));
  if (const Json* chosen = field(json, "chosen"); chosen && chosen->is_number_unsigned())
    report.chosen = chosen->get<size_t>();
  if (const Json* notes = field(json, "notes"); notes && notes->is_array())
    for (const auto& note : *notes)
      if (note.is_string()) report.notes.push_back(note.get<std::string>());
  return report;
}

}  // namespace kmr::embed
