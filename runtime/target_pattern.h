// The "re:" patterns of quantization_config targets, matched in linear time: the patterns
// come from untrusted files, and backtracking matchers can take exponential time on them.
#pragma once

#include <string_view>

namespace kmr::runtime {

/// Python's re.match(pattern, name) is not None for the common regular-expression subset:
/// literals, `.`, `\d \w \s \D \W \S`, other escaped characters, classes `[a-z_]` and
/// `[^...]`, groups `(...)` and `(?:...)`, alternation `|`, the quantifiers `* + ?` (greedy
/// or lazy: it makes no difference to whether a match exists), `^` at the start and `$` at
/// the end. The match is anchored at the start of `name` and, without `$`, not at its end.
/// A pattern outside the subset (counted repetition, lookaround, backreferences, ...), or
/// longer than 1000 characters or nested more than 64 groups deep, matches nothing.
/// Runs in O(|pattern| x |name|) time.
bool target_pattern_matches(std::string_view pattern, std::string_view name);

}  // namespace kmr::runtime
