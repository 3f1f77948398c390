// Duplicate-key detection rides on nlohmann's parser callback: one key set per open object.
#include "runtime/strict_json.h"

#include <set>
#include <vector>

namespace kmr::runtime {
namespace {

// nlohmann messages start with "[json.exception.parse_error.101] "; users need the rest.
std::string without_exception_tag(const std::string& what) {
  if (!what.empty() && what.front() == '[') {
    std::size_t close = what.find("] ");
    if (close != std::string::npos) return what.substr(close + 2);
  }
  return what;
}

}  // namespace

kmr::Expected<nlohmann::ordered_json> parse_json_strict(std::string_view text, const std::string& label) {
  using Json = nlohmann::ordered_json;
  struct OpenObject {
    std::string name;  // the key it is the value of ("" at top level or inside an array)
    std::set<std::string> keys;
    std::string last_key;
  };
  std::vector<OpenObject> open_objects;
  std::string duplicate;
  std::string duplicate_in;
  bool has_duplicate = false;
  auto on_event = [&](int /*depth*/, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
        open_objects.push_back({open_objects.empty() ? std::string() : open_objects.back().last_key, {}, {}});
        break;
      case Json::parse_event_t::key:
        if (!open_objects.empty()) {
          OpenObject& object = open_objects.back();
          object.last_key = parsed.get<std::string>();
          if (!object.keys.insert(object.last_key).second && !has_duplicate) {
            has_duplicate = true;
            duplicate = object.last_key;
            duplicate_in = object.name;
          }
        }
        break;
      case Json::parse_event_t::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      default:
        break;
    }
    return true;
  };
  try {
    Json value = Json::parse(text.begin(), text.end(), on_event);
    if (has_duplicate) {
      return kmr::Error{label + ": duplicate key \"" + duplicate + "\"" +
                        (duplicate_in.empty() ? std::string() : " in \"" + duplicate_in + "\"")};
    }
    return value;
  } catch (const nlohmann::json::exception& e) {
    return kmr::Error{label + ": not valid JSON: " + without_exception_tag(e.what())};
  } catch (const std::exception& e) {
    return kmr::Error{label + ": cannot parse JSON: " + e.what()};
  }
}

}  // namespace kmr::runtime
