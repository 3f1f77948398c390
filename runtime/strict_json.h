// JSON parsing for untrusted files: duplicate keys are errors, and no exception escapes.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "support/expected.h"

namespace kmr::runtime {

/// Parses `text` as one JSON value (surrounding whitespace allowed), keeping object keys
/// in document order. Fails with "<label>: ..." when the text is not valid UTF-8 JSON or
/// an object repeats a key (nlohmann would silently keep the last one).
kmr::Expected<nlohmann::ordered_json> parse_json_strict(std::string_view text, const std::string& label);

}  // namespace kmr::runtime
